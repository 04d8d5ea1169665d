"""A token as the list memory holds it (``Listed``), and the Python form of what a list asks:
which tokens match (``matcher``) and in what order (``SORT_KEYS``, ``Order``).

Each rule is the one ``token_listing`` asks MongoDB for, written for a row in memory; the
differential test (``tests/test_list_memory.py``) holds the two to the same answers, byte for
byte. Strings compare as MongoDB compares them: by code point (the order of their UTF-8 bytes),
and ids as 24 lowercase hex digits sort as their ObjectIds do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tokens_server.domain.guids import GUID_LENGTH
from tokens_server.domain.models import TokenQuery, TokenSort
from tokens_server.domain.names import search_key
from tokens_server.secrets.crypto import PREFIX_LENGTH
from tokens_server.storage.token_documents import Document, HeldToken, TokenDocuments, ends_at

SortKey = tuple[Any, ...]
# Below every date: a token never used sorts first by last use, as null does in MongoDB.
_NEVER_USED = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Listed:
    """A stored token with the fields a list filters and sorts by beside the ones it answers."""

    held: HeldToken
    name_key: str
    guid_prefix: str
    ends_at: datetime

    @classmethod
    def of(cls, doc: Document) -> Listed:
        held = TokenDocuments.held(doc)
        return cls(
            held=held,
            name_key=doc.get("name_key") or search_key(held.name),
            guid_prefix=doc.get("guid_prefix") or "",
            ends_at=doc.get("ends_at") or ends_at(held.valid_to),
        )

    @property
    def id(self) -> str:
        return self.held.id

    def is_active(self, now: datetime) -> bool:
        held = self.held
        return held.valid_from <= now and (held.valid_to is None or held.valid_to > now)


# The orders kept sorted, ascending; each breaks ties by name and then id, as SORTS does.
def _by_name(row: Listed) -> SortKey:
    return row.name_key, row.held.name, row.id


def _by_valid_from(row: Listed) -> SortKey:
    return row.held.valid_from, row.name_key, row.held.name, row.id


def _by_ends_at(row: Listed) -> SortKey:
    return row.ends_at, row.name_key, row.held.name, row.id


def _by_last_use(row: Listed) -> SortKey:
    return row.held.last_used_at or _NEVER_USED, row.name_key, row.held.name, row.id


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


def matcher(
    query: TokenQuery, now: datetime, guid_hashes: list[str] | None
) -> Callable[[Listed], bool] | None:
    """Whether a row matches ``query`` at ``now``, as ``token_listing.filtering`` asks MongoDB;
    None when every row does. ``guid_hashes`` are a whole GUID's lookup hashes."""
    checks: list[Callable[[Listed], bool]] = []
    if query.scopes is not None:
        wanted = frozenset(query.scopes)
        checks.append(lambda row: not wanted.isdisjoint(row.held.scopes))
    guid = query.guid_prefix
    if guid is not None:
        if len(guid) == GUID_LENGTH:
            hashes = frozenset(guid_hashes or ())
            checks.append(lambda row: not hashes.isdisjoint(row.held.lookup_hashes))
        elif len(guid) >= PREFIX_LENGTH:
            stored = guid[:PREFIX_LENGTH]
            checks.append(lambda row: row.guid_prefix == stored)
        else:
            checks.append(lambda row: row.guid_prefix.startswith(guid))
    if query.expires_within is not None:
        until = now + timedelta(days=query.expires_within)
        checks.append(
            lambda row: (
                row.held.valid_from <= now
                and row.held.valid_to is not None
                and now < row.held.valid_to <= until
            )
        )
    if query.status is not None:
        wanted_active = query.status == "active"
        checks.append(lambda row: row.is_active(now) == wanted_active)
    if query.unused_for is not None:
        cutoff = now - timedelta(days=query.unused_for)
        checks.append(lambda row: row.held.last_used_at is None or row.held.last_used_at <= cutoff)
    for word in query.keywords:
        checks.append(lambda row, word=word: word in row.name_key)  # type: ignore[misc]
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    return lambda row: all(check(row) for check in checks)
