"""Every token in this process's memory, in each order a list may ask for, so that a list page
costs the page and not the tokens behind it.

Kept exact by the process's change stream, as ``memory.py`` is, with one more rule: memory
answers only what the database would answer at the moment of the request.

- **Loaded after the stream opens.** ``live/list_keeper.py`` reads every token once the stream
  watches; a token the stream reports while it loads is read again after (``take_dirty``).
- **Every write is read again.** The stream reports writes by id; each id is read again from
  the database and replaces its row (or drops it, when gone). A write of a token's last use
  alone brings its value and is taken as it is, as memory takes it.
- **Caught up before it answers.** Each event id follows commit order, and a change's event is
  the last write of its transaction, so a change whose event was seen here has been reported.
  ``applied_event`` is the last event whose changes are all applied; a list first reads the
  database's last event id and waits for memory to reach it (``caught_up``). A list therefore
  sees every change acknowledged before it began, whichever instance made it. Writes made
  behind the server's back (an operator's shell) are applied as the stream reports them.
- **Trusted only while heard** (``Memory.trusted``), and only once loaded and while it holds
  no more than ``max_tokens``; else lists go to the database, and ``/health`` says why.

Each order is a ``SortedKeyList`` keyed by the sort key and id (``listed.SORT_KEYS``). A page of
every token the caller sees costs O(log n + page); a filter that names scopes or a GUID prefix
starts from those tokens alone; any other filter reads the order it sorts by once.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Literal

from sortedcontainers import SortedKeyList, SortedList

from tokens_server.domain.guids import GUID_LENGTH
from tokens_server.domain.models import TokenQuery
from tokens_server.secrets.crypto import PREFIX_LENGTH
from tokens_server.storage.listed import (
    ORDERS,
    SORT_KEYS,
    Listed,
    Order,
    SortKey,
    matcher,
    sort_rows,
)
from tokens_server.storage.memory import Memory
from tokens_server.storage.token_documents import HeldToken

State = Literal["ready", "loading", "off"]
# How long a list waits for the change stream to bring the changes acknowledged before it
# (usually a few milliseconds) before it reads the database instead.
CATCH_UP_S = 1.0
# Rows a narrowed search may sort itself; past it, reading a kept order once is cheaper.
_SORT_AT_MOST = 2000


class TooManyTokens(Exception):
    """More tokens than memory may hold."""


class ListMemory:
    def __init__(self, memory: Memory, max_tokens: int) -> None:
        self._memory = memory
        self.max_tokens = max_tokens
        self.state: State = "off"
        # Why lists go to the database, when they do: for /health and the log.
        self.why = "the change stream is not open yet"
        self._rows: dict[str, Listed] = {}
        self._orders = {name: SortedKeyList(key=key) for name, key in SORT_KEYS.items()}
        self._by_scope: defaultdict[str, set[str]] = defaultdict(set)
        self._by_prefix: SortedList[tuple[str, str]] = SortedList()
        self._by_hash: dict[str, str] = {}
        # Ids to read again from the database, and those being read.
        self._dirty: set[str] = set()
        self._reading: set[str] = set()
        self._work = asyncio.Event()
        self.seen_event = 0
        self.applied_event = 0
        self._advanced = asyncio.Event()

    def __len__(self) -> int:
        return len(self._rows)

    def rows(self) -> dict[str, Listed]:
        """Every row held, by id: for the tests."""
        return dict(self._rows)

    @property
    def answers(self) -> bool:
        return self.state == "ready" and self._memory.trusted

    # The stream's side (``live/feed.py``).

    def changed(self, token_id: str, used_at: datetime | None) -> None:
        """The stream reported a write to the token ``token_id``; ``used_at`` when the write
        set its last use and nothing else."""
        if self.state == "off":
            return
        row = self._rows.get(token_id)
        safe = token_id not in self._dirty and token_id not in self._reading
        if used_at is not None and row is not None and safe:
            self._put(_used(row, used_at))
            return
        self._dirty.add(token_id)
        self._work.set()

    def saw_event(self, event_id: int) -> None:
        self.seen_event = max(self.seen_event, event_id)
        if self.state == "ready" and not self._dirty and not self._reading:
            self._advance(self.seen_event)

    def reset(self, state: State, why: str) -> None:
        """Drop every row. ``loading``: the stream watches and a load begins, so writes are
        noted for reading again; ``off``: lists go to the database because of ``why``."""
        self.state = state
        self.why = why
        self._rows.clear()
        for order in self._orders.values():
            order.clear()
        self._by_scope.clear()
        self._by_prefix.clear()
        self._by_hash.clear()
        self._dirty.clear()
        self._reading.clear()
        self._work.clear()
        self.applied_event = 0
        self._wake_waiters()

    # The keeper's side (``live/list_keeper.py``).

    def load(self, docs: Iterable[Listed]) -> None:
        """Rows read by the load; raises TooManyTokens past ``max_tokens``."""
        for row in docs:
            self._put(row)

    async def wait_for_work(self) -> None:
        await self._work.wait()

    def take_dirty(self) -> list[str]:
        """The ids to read again now; they count as being read until ``refreshed``."""
        ids = list(self._dirty)
        self._reading.update(self._dirty)
        self._dirty.clear()
        self._work.clear()
        return ids

    def refreshed(self, ids: list[str], rows: dict[str, Listed]) -> None:
        """``rows`` were read again for ``ids``; an id without a row is gone."""
        for token_id in ids:
            row = rows.get(token_id)
            if row is None:
                self._drop(token_id)
            else:
                self._put(row)
        self._reading.difference_update(ids)
        if self.state == "ready" and not self._dirty and not self._reading:
            self._advance(self.seen_event)

    def loaded(self, base_event: int) -> bool:
        """The load and every write noted during it are in: ready, if nothing is left to read.
        ``base_event`` is the last event id read before the load began."""
        if self._dirty or self._reading:
            return False
        self.state = "ready"
        self.why = ""
        self._advance(max(base_event, self.seen_event))
        return True

    # The readers' side.

    async def caught_up(self, event_id: int, within_s: float) -> bool:
        """Whether memory answers with every change up to the event ``event_id`` applied,
        waiting up to ``within_s`` for the stream to bring them."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while self.answers and self.applied_event < event_id:
            try:
                async with asyncio.timeout_at(deadline):
                    await self._advanced.wait()
            except TimeoutError:
                return False
        return self.answers

    def page(
        self,
        query: TokenQuery,
        now: datetime,
        guid_hashes: list[str] | None = None,
        also: Callable[[HeldToken], bool] | None = None,
    ) -> tuple[list[HeldToken], int]:
        """The page ``query`` asks for at ``now``, and how many match in all. ``also`` is one
        more check, on the rows that pass the query's own."""
        match = matcher(query, now, guid_hashes)
        if also is not None:
            check = also
            first = match
            match = (
                (lambda row: check(row.held))
                if first is None
                else (lambda row: first(row) and check(row.held))
            )
        order = ORDERS[query.sort]
        start, stop = query.offset, query.offset + query.limit
        narrowed = self._narrowed(query, guid_hashes)
        if narrowed is not None and len(narrowed) <= _SORT_AT_MOST:
            rows = [row for row in narrowed if match is None or match(row)]
            sort_rows(rows, order, now)
            return [row.held for row in rows[start:stop]], len(rows)
        if match is None and order.active_first is None:
            kept = self._orders[order.key]
            return [row.held for row in self._slice(kept, order, start, stop)], len(kept)
        rows_in_order = self._in_order(order, now)
        matching = rows_in_order if match is None else filter(match, rows_in_order)
        total = 0
        page: list[HeldToken] = []
        for row in matching:
            if start <= total < stop:
                page.append(row.held)
            total += 1
        return page, total

    # Inside.

    def _narrowed(self, query: TokenQuery, guid_hashes: list[str] | None) -> list[Listed] | None:
        """The rows a GUID or scope filter leaves to look at, or None when neither narrows."""
        guid = query.guid_prefix
        ids: Iterable[str] | None = None
        if guid is not None and len(guid) == GUID_LENGTH:
            ids = {self._by_hash[h] for h in guid_hashes or () if h in self._by_hash}
        elif guid is not None:
            low = guid[:PREFIX_LENGTH]
            # GUID characters all sort below "~".
            found = self._by_prefix.irange((low, ""), (low + "~", ""))
            ids = [token_id for _, token_id in found]
        elif query.scopes is not None:
            counted = sum(len(self._by_scope.get(scope, ())) for scope in query.scopes)
            if counted > _SORT_AT_MOST:
                return None
            ids = set().union(*(self._by_scope.get(scope, set()) for scope in query.scopes))
        if ids is None:
            return None
        return [self._rows[token_id] for token_id in ids]

    def _in_order(self, order: Order, now: datetime) -> Iterator[Listed]:
        kept = self._orders[order.key]
        if order.active_first is not None:
            first = order.active_first
            return itertools.chain(
                (row for row in kept if row.is_active(now) == first),
                (row for row in kept if row.is_active(now) != first),
            )
        if order.names_ascending:
            return _names_ascending(reversed(kept))
        return reversed(kept) if order.reverse else iter(kept)

    def _slice(
        self, kept: SortedKeyList[Listed, SortKey], order: Order, start: int, stop: int
    ) -> Iterator[Listed]:
        if not order.reverse:
            return kept.islice(start, stop)
        size = len(kept)
        low, high = max(size - stop, 0), size - start  # the page, read ascending
        if not order.names_ascending or low >= high:
            return kept.islice(low, high, reverse=True)
        # Ties of one name key run ascending: widen the page to the whole runs at its ends.
        low = kept.bisect_key_left((kept[low].name_key,))
        high = kept.bisect_key_left((kept[high - 1].name_key + "\0",))
        widened = _names_ascending(kept.islice(low, high, reverse=True))
        first = size - high  # where the widened rows start, read descending
        return itertools.islice(widened, start - first, stop - first)

    def _put(self, row: Listed) -> None:
        token_id = row.id
        if token_id not in self._rows and len(self._rows) >= self.max_tokens:
            raise TooManyTokens(f"more than {self.max_tokens} tokens")
        self._drop(token_id)
        self._rows[token_id] = row
        for order in self._orders.values():
            order.add(row)
        for scope in row.held.scopes:
            self._by_scope[scope].add(token_id)
        self._by_prefix.add((row.guid_prefix, token_id))
        for lookup_hash in row.held.lookup_hashes:
            self._by_hash[lookup_hash] = token_id

    def _drop(self, token_id: str) -> None:
        row = self._rows.pop(token_id, None)
        if row is None:
            return
        for order in self._orders.values():
            order.remove(row)
        for scope in row.held.scopes:
            holders = self._by_scope[scope]
            holders.discard(token_id)
            if not holders:
                del self._by_scope[scope]
        self._by_prefix.remove((row.guid_prefix, token_id))
        for lookup_hash in row.held.lookup_hashes:
            if self._by_hash.get(lookup_hash) == token_id:
                del self._by_hash[lookup_hash]

    def _advance(self, event_id: int) -> None:
        if event_id > self.applied_event:
            self.applied_event = event_id
            self._wake_waiters()

    def _wake_waiters(self) -> None:
        self._advanced.set()
        self._advanced = asyncio.Event()


def _names_ascending(descending: Iterator[Listed]) -> Iterator[Listed]:
    """Rows by name key descending, each run of one name key in ascending order."""
    for _, run in itertools.groupby(descending, key=lambda row: row.name_key):
        yield from reversed(list(run))


def _used(row: Listed, used_at: datetime) -> Listed:
    # As written, even back: the stream reports writes in commit order, so the last one
    # reported is what the database holds.
    return replace(row, held=replace(row.held, last_used_at=used_at))
