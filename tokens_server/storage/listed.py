"""A token as the list memory holds it (``Listed``), and the orders a list reads it in
(``SORT_KEYS``, ``ORDERS``; which tokens match is ``list_filters``).

Each rule is the one ``token_listing`` asks MongoDB for, written for a row in memory; the
differential test (``tests/test_list_memory.py``) holds the two to the same answers, byte for
byte. Strings compare as MongoDB compares them: by code point (the order of their UTF-8 bytes),
and ids as 24 lowercase hex digits sort as their ObjectIds do.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sortedcontainers import SortedKeyList

from tokens_server.domain.models import TokenSort
from tokens_server.domain.names import search_key
from tokens_server.storage.token_documents import Document, HeldToken, TokenDocuments, ends_at

SortKey = tuple[Any, ...]
# Below every date: a token never used sorts first by last use, as null does in MongoDB.
_NEVER_USED = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Listed:
    """A stored token with the fields a list filters and sorts by beside the ones it answers
    (``held``); those it shares with ``held`` are copied out, one attribute away, as a list may
    read them for every token."""

    id: str
    held: HeldToken
    name_key: str
    guid_prefix: str
    ends_at: datetime
    valid_from: datetime
    valid_to: datetime | None
    last_used_at: datetime | None
    last_refused_at: datetime | None

    @classmethod
    def of(cls, doc: Document) -> Listed:
        return cls.holding(
            TokenDocuments.held(doc),
            name_key=doc.get("name_key") or search_key(doc["name"]),
            guid_prefix=doc.get("guid_prefix") or "",
            ends_at=doc.get("ends_at") or ends_at(doc.get("valid_to")),
        )

    @classmethod
    def holding(cls, held: HeldToken, name_key: str, guid_prefix: str, ends_at: datetime) -> Listed:
        return cls(
            held.id,
            held,
            name_key,
            guid_prefix,
            ends_at,
            held.valid_from,
            held.valid_to,
            held.last_used_at,
            held.last_refused_at,
        )

    def used(self, at: datetime) -> Listed:
        """The token, last used ``at``."""
        held = replace(self.held, last_used_at=at)
        return Listed.holding(held, self.name_key, self.guid_prefix, self.ends_at)

    def is_active(self, now: datetime) -> bool:
        return self.valid_from <= now and (self.valid_to is None or self.valid_to > now)


# The orders kept sorted, ascending; each breaks ties by name and then id, as SORTS does.
def _by_name(row: Listed) -> SortKey:
    return row.name_key, row.held.name, row.id


def _by_valid_from(row: Listed) -> SortKey:
    return row.valid_from, row.name_key, row.held.name, row.id


def _by_ends_at(row: Listed) -> SortKey:
    return row.ends_at, row.name_key, row.held.name, row.id


def _by_last_use(row: Listed) -> SortKey:
    return row.last_used_at or _NEVER_USED, row.name_key, row.held.name, row.id


def _by_created_at(row: Listed) -> SortKey:
    return row.held.created_at, row.name_key, row.held.name, row.id


SORT_KEYS: dict[str, Callable[[Listed], SortKey]] = {
    "name": _by_name,
    "valid_from": _by_valid_from,
    "valid_to": _by_ends_at,
    "last_used_at": _by_last_use,
    "created_at": _by_created_at,
}


@dataclass(frozen=True)
class Order:
    """How a TokenSort reads the kept orders. ``key`` names one of SORT_KEYS; ``reverse`` reads it
    backwards; ``names_ascending`` (``-name``) keeps ties of one name key in ascending order, as
    SORTS asks for ``{"name_key": -1, "name": 1, "_id": 1}``; ``active_first`` (the is_active
    sorts) reads the name order twice: the inactive tokens first, or the active ones."""

    key: str
    reverse: bool = False
    names_ascending: bool = False
    active_first: bool | None = None


ORDERS: dict[TokenSort, Order] = {
    "name": Order("name"),
    "-name": Order("name", reverse=True, names_ascending=True),
    "is_active": Order("name", active_first=False),
    "-is_active": Order("name", active_first=True),
    "valid_from": Order("valid_from"),
    "-valid_from": Order("valid_from", reverse=True),
    "valid_to": Order("valid_to"),
    "-valid_to": Order("valid_to", reverse=True),
    "last_used_at": Order("last_used_at"),
    "-last_used_at": Order("last_used_at", reverse=True),
    "created_at": Order("created_at"),
    "-created_at": Order("created_at", reverse=True),
}


def sort_rows(rows: list[Listed], order: Order, now: datetime) -> None:
    """Sort a handful of rows into ``order`` at ``now``, in place."""
    by = SORT_KEYS[order.key]
    if order.active_first is not None:
        first = order.active_first
        rows.sort(key=lambda row: (row.is_active(now) != first, *by(row)))
    elif order.names_ascending:
        # Python's sort is stable, reversed too: ties of one name key keep the ascending order.
        rows.sort(key=by)
        rows.sort(key=lambda row: row.name_key, reverse=True)
    else:
        rows.sort(key=by, reverse=order.reverse)


Kept = SortedKeyList[Listed, SortKey]


def in_order(kept: Kept, order: Order) -> Iterator[Listed]:
    """Every row of ``kept`` (kept in ``order.key``), read as ``order`` asks: not for the
    is_active sorts, which read the active set."""
    if order.names_ascending:
        return _names_ascending(reversed(kept))
    return reversed(kept) if order.reverse else iter(kept)


def page_of(kept: Kept, order: Order, start: int, stop: int) -> Iterator[Listed]:
    """Rows ``start`` to ``stop`` of ``kept`` read as ``order`` asks, found by position."""
    if not order.reverse:
        return kept.islice(start, stop)
    size = len(kept)
    # The page, read ascending; clamped at 0, since islice reads a negative bound from the end.
    low, high = max(size - stop, 0), max(size - start, 0)
    if not order.names_ascending or low >= high:
        return kept.islice(low, high, reverse=True)
    # Ties of one name key run ascending: widen the page to the whole runs at its ends.
    low = kept.bisect_key_left((kept[low].name_key,))
    high = kept.bisect_key_left((kept[high - 1].name_key + "\0",))
    widened = _names_ascending(kept.islice(low, high, reverse=True))
    first = size - high  # where the widened rows start, read descending
    return itertools.islice(widened, start - first, stop - first)


def _names_ascending(descending: Iterator[Listed]) -> Iterator[Listed]:
    """Rows by name key descending, each run of one name key in ascending order."""
    for _, run in itertools.groupby(descending, key=lambda row: row.name_key):
        yield from reversed(list(run))
