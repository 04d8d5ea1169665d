"""A list page answered from the list memory's rows and indexes (``list_memory``): which rows
match (``list_filters``), read in the order asked (``listed``) the cheapest way: a few matches
sorted, many read from a kept order until the page is full.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Set
from datetime import datetime

from tokens_server.domain.models import TokenQuery
from tokens_server.storage.list_activity import Activity
from tokens_server.storage.list_filters import Indexes, matching
from tokens_server.storage.listed import ORDERS, Listed, in_order, page_of, sort_rows
from tokens_server.storage.token_documents import HeldToken

# Matches a list may sort itself (past it, reading a kept order is cheaper), and what a sort
# costs per match, in rows read.
_SORT_AT_MOST = 2000
_SORT_STEPS = 4


def page_from(
    indexes: Indexes,
    activity: Activity,
    query: TokenQuery,
    now: datetime,
    guid_hashes: list[str] | None = None,
    also: Callable[[HeldToken], bool] | None = None,
) -> tuple[list[HeldToken], int]:
    """The page ``query`` asks for at ``now``, and how many match in all. ``guid_hashes``
    are a whole GUID's lookup hashes; ``also`` is one more check, on the rows that pass the
    query's own."""
    held = indexes.rows
    active = activity.at(now, held)
    matched = matching(indexes, query, now, active, guid_hashes, also)
    order = ORDERS[query.sort]
    start, stop = query.offset, query.offset + query.limit
    total = matched.count(len(held))
    if matched.within is not None and sorting_is_cheaper(len(matched.within), stop, len(held)):
        rows = [held[token_id] for token_id in matched.within]
        sort_rows(rows, order, now)
        return [row.held for row in rows[start:stop]], total
    if order.active_first is not None:
        first = order.active_first
        first_count = matched.count_in(active, held)
        if not first:
            first_count = total - first_count
        found = by_activity(
            indexes.orders["name"], active, first, first_count, matched.test(), start, stop
        )
    elif matched.everything:
        found = list(page_of(indexes.orders[order.key], order, start, stop))
    else:
        kept = in_order(indexes.orders[order.key], order)
        found = list(itertools.islice(filter(matched.test(), kept), start, stop))
    return [row.held for row in found], total


def by_activity(
    by_name: Iterable[Listed],
    active: Set[str],
    first: bool,
    first_count: int,
    test: Callable[[Listed], bool] | None,
    start: int,
    stop: int,
) -> list[Listed]:
    """Rows ``start`` to ``stop`` of an is_active sort: the rows that pass ``test`` and are
    active (``first``) or not, by name (``first_count`` of them); then the others."""

    def part(active_ones: bool) -> Iterator[Listed]:
        for row in by_name:
            if (row.id in active) == active_ones and (test is None or test(row)):
                yield row

    found: list[Listed] = []
    if start < first_count:
        found += itertools.islice(part(first), start, stop)
    if len(found) < stop - start:
        skip = max(0, start - first_count)
        found += itertools.islice(part(not first), skip, skip + stop - start - len(found))
    return found


def sorting_is_cheaper(matches: int, stop: int, held: int) -> bool:
    """Whether to sort the matches rather than read a kept order until the page is full: a
    read passes about ``stop`` times as many rows as there are per match, a sort costs a few
    steps per match."""
    return matches <= _SORT_AT_MOST and _SORT_STEPS * matches < stop * held / max(matches, 1)
