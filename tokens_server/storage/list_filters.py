"""Which held tokens a list query matches: ``token_listing.filtering`` for rows in memory.

The answer is a set of ids, made from the indexes wherever one serves (GUID prefix and hash,
scopes, the end-date order, the last-use order, the active set), and from a pass over the
candidates left for the rest (name keywords, a GUID checked opened). Set operations run in C,
a pass in Python: the indexes go first so the pass sees as few tokens as they leave.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass
from datetime import datetime, timedelta

from sortedcontainers import SortedKeyList, SortedList

from tokens_server.domain.guids import GUID_LENGTH
from tokens_server.domain.models import TokenQuery
from tokens_server.secrets.crypto import PREFIX_LENGTH
from tokens_server.storage.listed import Listed, SortKey
from tokens_server.storage.token_documents import HeldToken

RowCheck = Callable[[Listed], bool]


@dataclass
class Indexes:
    """The list memory's rows by id and its indexes, as ``ListMemory`` keeps them."""

    rows: dict[str, Listed]
    orders: dict[str, SortedKeyList[Listed, SortKey]]
    by_scope: defaultdict[str, set[str]]
    by_prefix: SortedList[tuple[str, str]]
    by_hash: dict[str, str]
    names: dict[str, str]  # each row's name key, by id: searched for keywords


@dataclass(frozen=True)
class Matching:
    """The ids that match: those in ``within`` (every held token when None) and not in
    ``without``; or, when ``check`` is set, the rows it passes, ``counted`` of them. At most
    one of the three is set."""

    within: Set[str] | None = None
    without: Set[str] | None = None
    check: RowCheck | None = None
    counted: int = 0

    @property
    def everything(self) -> bool:
        return self.within is None and self.without is None and self.check is None

    def count(self, held: int) -> int:
        if self.check is not None:
            return self.counted
        if self.within is not None:
            return len(self.within)
        return held - (0 if self.without is None else len(self.without))

    def count_in(self, ids: Set[str], rows: Mapping[str, Listed]) -> int:
        """How many of ``ids`` match; ``rows`` are the held rows by id."""
        if self.check is not None:
            check = self.check
            return sum(1 for token_id in ids if check(rows[token_id]))
        if self.within is not None:
            return len(ids & self.within)
        return len(ids) - (0 if self.without is None else len(ids & self.without))

    def test(self) -> RowCheck | None:
        """Whether a row matches; None when every row does."""
        if self.check is not None:
            return self.check
        within, without = self.within, self.without
        if within is not None:
            return lambda row: row.id in within
        if without is not None:
            return lambda row: row.id not in without
        return None


def matching(
    ix: Indexes,
    query: TokenQuery,
    now: datetime,
    active: Set[str],
    guid_hashes: list[str] | None = None,
    also: Callable[[HeldToken], bool] | None = None,
) -> Matching:
    """The tokens ``query`` matches at ``now``; ``active`` are those active then; ``also`` is
    one more check on what the query's own leave."""
    within: Set[str] | None = None

    def narrow(ids: Set[str]) -> None:
        nonlocal within
        within = ids if within is None else within & ids

    if query.guid_prefix is not None:
        narrow(_by_guid(ix, query.guid_prefix, guid_hashes))
    if query.scopes is not None:
        narrow(set().union(*(ix.by_scope.get(scope, ()) for scope in query.scopes)))
    if query.expires_within is not None:
        narrow(_expiring(ix, now, now + timedelta(days=query.expires_within), within))
    if query.keywords:
        narrow(_named(ix, query.keywords, within))
    checks: list[RowCheck] = []
    if query.unused_for is not None:
        cutoff = now - timedelta(days=query.unused_for)
        unused = _unused_since(cutoff)
        alone = query.status is None and query.refused_within is None
        if within is None and alone and also is None:
            # Alone: counted in the last-use order, checked on the rows a page reads.
            return Matching(check=unused, counted=_count_unused_since(ix, cutoff))
        checks.append(unused)
    if query.refused_within is not None:
        checks.append(_refused_after(now - timedelta(days=query.refused_within)))
    if also is not None:
        checks.append(lambda row: also(row.held))
    without: Set[str] | None = None
    if query.status == "active":
        narrow(active)
    elif query.status == "inactive":
        if within is None:
            without = active
        else:
            within = within - active
    if not checks:
        return Matching(within, without)
    check = checks[0] if len(checks) == 1 else (lambda row: all(c(row) for c in checks))
    rows = ix.rows
    if within is None:
        kept = {i for i, row in rows.items() if check(row)}
        return Matching(kept if without is None else kept - without)
    return Matching({i for i in within if check(rows[i])})


def _by_guid(ix: Indexes, guid: str, guid_hashes: list[str] | None) -> set[str]:
    if len(guid) == GUID_LENGTH:  # by its keyed hash, as the database finds it
        return {ix.by_hash[h] for h in guid_hashes or () if h in ix.by_hash}
    low = guid[:PREFIX_LENGTH]
    # GUID characters all sort below "~": a range, as the database's match on the prefix.
    return {token_id for _, token_id in ix.by_prefix.irange((low, ""), (low + "~", ""))}


def _expiring(ix: Indexes, now: datetime, until: datetime, within: Set[str] | None) -> set[str]:
    """Active tokens whose valid_to falls after now and by ``until``: read in end-date order, or
    checked one by one in ``within`` when that is fewer (a user who sees a thousand of many)."""
    order = ix.orders["valid_to"]
    start = order.bisect_key_left((now,))
    # Dates hold microseconds at most: "by until" is "before until and a microsecond".
    end = order.bisect_key_left((until + timedelta(microseconds=1),))
    if within is not None and len(within) < end - start:
        rows = ix.rows
        return {token_id for token_id in within if _expires(rows[token_id], now, until)}
    return {row.id for row in order.islice(start, end) if _expires(row, now, until)}


def _expires(row: Listed, now: datetime, until: datetime) -> bool:
    valid_to = row.valid_to
    return valid_to is not None and now < valid_to <= until and row.valid_from <= now


def _unused_since(cutoff: datetime) -> RowCheck:
    return lambda row: row.last_used_at is None or row.last_used_at <= cutoff


def _refused_after(cutoff: datetime) -> RowCheck:
    return lambda row: row.last_refused_at is not None and row.last_refused_at > cutoff


def _count_unused_since(ix: Indexes, cutoff: datetime) -> int:
    """Tokens never used or last used by ``cutoff``: the first ones in last-use order."""
    # Dates hold microseconds at most: "by cutoff" is "before cutoff and a microsecond".
    return ix.orders["last_used_at"].bisect_key_left((cutoff + timedelta(microseconds=1),))


def _named(ix: Indexes, words: tuple[str, ...], within: Set[str] | None) -> set[str]:
    """The tokens, of ``within`` if given, whose name key holds each of ``words``."""
    names = ix.names
    found = within
    for word in words:
        if found is None:
            found = {token_id for token_id, key in names.items() if word in key}
        else:
            found = {token_id for token_id in found if word in names[token_id]}
    return set() if found is None else set(found)
