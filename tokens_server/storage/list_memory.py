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

Each order is a ``SortedKeyList`` keyed by the sort key and id (``listed.SORT_KEYS``), and which
tokens are active now is a set kept by a heap of start and end moments (``list_activity``). A
page of every token the caller sees, or of the active or inactive ones, costs O(log n + page);
a filter by scopes, GUID, expiry or last use is counted from its index; name keywords read the
held names once. A page of a few matches is sorted; of many, read from the kept order until
full.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Literal

from sortedcontainers import SortedKeyList, SortedList

from tokens_server.domain.models import TokenQuery, utcnow
from tokens_server.storage.list_activity import Activity
from tokens_server.storage.list_filters import Indexes
from tokens_server.storage.list_pages import page_from
from tokens_server.storage.listed import SORT_KEYS, Listed
from tokens_server.storage.memory import Memory
from tokens_server.storage.token_documents import HeldToken

State = Literal["ready", "loading", "off"]
# How long a list waits for the change stream to bring the changes acknowledged before it
# (usually a few milliseconds) before it reads the database instead.
CATCH_UP_S = 1.0
# Rows indexed between turns of the event loop while a load is indexed (``index_loaded``).
_INDEX_STEP = 5000


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
        self._names: dict[str, str] = {}
        self._indexes = Indexes(
            self._rows, self._orders, self._by_scope, self._by_prefix, self._by_hash, self._names
        )
        self._activity = Activity()
        # Read by the load, not yet indexed; by id, since a token whose GUID was regenerated
        # during the load can be read in two ranges (the stream's report reads it again).
        self._loading: dict[str, Listed] = {}
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

    def visible(self, scopes: tuple[str, ...] | None) -> list[Listed]:
        """Every row seen through one of ``scopes`` (None: every row)."""
        if scopes is None:
            return list(self._rows.values())
        ids = set().union(*(self._by_scope.get(scope, ()) for scope in scopes))
        return [self._rows[token_id] for token_id in ids]

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
        # Only once ready: while the load indexes its rows, the orders are not whole yet.
        ready = self.state == "ready"
        safe = ready and token_id not in self._dirty and token_id not in self._reading
        if used_at is not None and row is not None and safe:
            self._put(row.used(used_at))
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
        self._names.clear()
        self._activity.clear()
        self._loading = {}
        self._dirty.clear()
        self._reading.clear()
        self._work.clear()
        self.applied_event = 0
        self._wake_waiters()

    # The keeper's side (``live/list_keeper.py``).

    def load(self, rows: Iterable[Listed]) -> None:
        """Rows read by the load, indexed once all are read (``index_loaded``); raises
        TooManyTokens past ``max_tokens``."""
        self._loading.update((row.id, row) for row in rows)
        if len(self._loading) > self.max_tokens:
            raise TooManyTokens(f"more than {self.max_tokens} tokens")

    async def index_loaded(self) -> None:
        """Index the rows the load read, each order sorted once rather than row by row.

        In steps, each followed by a turn of the event loop: 100,000 tokens take about a second
        on a quiet machine, and a change stream whose answer waits unread that long times out,
        which would drop the memory and begin the load again, for ever. The keeper stops this
        at a step (cancelled) when the stream is lost meanwhile."""
        rows, self._loading = list(self._loading.values()), {}
        for start in range(0, len(rows), _INDEX_STEP):
            for row in rows[start : start + _INDEX_STEP]:
                self._index(row)
            await asyncio.sleep(0)
        for order in self._orders.values():
            order.update(rows)
            await asyncio.sleep(0)
        self._by_prefix.update((row.guid_prefix, row.id) for row in rows)
        self._activity.at(utcnow(), self._rows)  # built now rather than by the first list

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
        """The page ``query`` asks for at ``now``, and how many match in all (``list_pages``)."""
        return page_from(self._indexes, self._activity, query, now, guid_hashes, also)

    def _put(self, row: Listed) -> None:
        token_id = row.id
        if token_id not in self._rows and len(self._rows) >= self.max_tokens:
            raise TooManyTokens(f"more than {self.max_tokens} tokens")
        old = self._rows.get(token_id)
        self._drop(token_id)
        self._index(row, old)
        for order in self._orders.values():
            order.add(row)
        self._by_prefix.add((row.guid_prefix, token_id))

    def _index(self, row: Listed, old: Listed | None = None) -> None:
        """Index ``row`` everywhere but in the sorted ones; ``old`` is the row it replaces."""
        token_id = row.id
        self._activity.put(old, row)
        self._rows[token_id] = row
        self._names[token_id] = row.name_key
        for scope in row.held.scopes:
            self._by_scope[scope].add(token_id)
        for lookup_hash in row.held.lookup_hashes:
            self._by_hash[lookup_hash] = token_id

    def _drop(self, token_id: str) -> None:
        row = self._rows.pop(token_id, None)
        if row is None:
            return
        self._activity.drop(token_id)
        del self._names[token_id]
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
