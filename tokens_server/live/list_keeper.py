"""Fills the list memory once the change stream watches, and keeps it: reads every token, then
reads again each token the stream reports (``storage/list_memory.py`` says why that is exact).

One keeper per process, started by the feed with each stream it opens and stopped when that
stream fails. While it loads, or when the database holds more tokens than memory may, or after a
read failed, lists go to the database; ``/health`` says which, and the log says why in a line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import TypeVar

from tokens_server.domain.errors import DomainError
from tokens_server.storage import Repository
from tokens_server.storage.list_memory import TooManyTokens
from tokens_server.storage.list_reads import FIRST_WIDTH, HASH_SPACE, next_width

log = logging.getLogger(__name__)
T = TypeVar("T")

# With too many tokens, how often to try loading again; after a failed read, the pause before
# loading again, doubled at each failure in a row.
RELOAD_TOO_MANY_S = 60.0
RETRY_MIN_S = 0.5
RETRY_MAX_S = 30.0


class _Stopped(Exception):
    """The run was stopped while it read: what it read is not applied."""


class _Run:
    """One keeper run, from a stream's opening to its loss. Stopped at once when it waits; when
    it reads, once the read is done: a read cancelled midway can leave its connection unclosed."""

    def __init__(self) -> None:
        self.stopped = False
        self.reading = False
        self.task: asyncio.Task[None] | None = None

    def stop(self) -> None:
        self.stopped = True
        if self.task is not None and not self.reading:
            self.task.cancel()

    async def read(self, read: Awaitable[T]) -> T:
        self.reading = True
        try:
            result = await read
        except Exception:
            if self.stopped:  # e.g. the server closed the client under it: nothing to report
                raise _Stopped from None
            raise
        finally:
            self.reading = False
        if self.stopped:
            raise _Stopped
        return result


class ListKeeper:
    def __init__(self, repo: Repository) -> None:
        self._lists = repo.lists
        self._reads = repo.list_reads
        self._events = repo.events
        self._run: _Run | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def opened(self) -> None:
        """A change stream watches from now on: load from the start."""
        self._stop()
        if self._lists.max_tokens == 0:
            self._lists.reset("off", "TOKENS_LIST_MEMORY_TOKENS is 0")
            return
        self._lists.reset("loading", "loading the tokens")
        run = self._run = _Run()
        run.task = asyncio.create_task(self._keep(run))
        self._tasks.add(run.task)
        run.task.add_done_callback(self._tasks.discard)

    def lost(self, why: str) -> None:
        """No stream watches: nothing in memory can be kept exact."""
        self._stop()
        self._lists.reset("off", why)

    async def close(self, within_s: float) -> None:
        self._stop()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=within_s)
        self._lists.reset("off", "the server is shutting down")

    def _stop(self) -> None:
        if self._run is not None:
            self._run.stop()
            self._run = None

    async def _keep(self, run: _Run) -> None:
        pause = RETRY_MIN_S
        while True:
            try:
                await self._load(run)
                pause = RETRY_MIN_S
                while True:
                    await self._lists.wait_for_work()
                    await self._read_again(run)
            except _Stopped:
                return
            except TooManyTokens:
                self._too_many()
                await asyncio.sleep(RELOAD_TOO_MANY_S)
            except Exception as error:
                # Whatever failed, memory may have missed a change: it answers nothing until
                # loaded again.
                if isinstance(error, DomainError):
                    log.warning("lists read the database: a read of the tokens failed (%s)", error)
                else:
                    log.exception("lists read the database: keeping the list memory failed")
                self._lists.reset("off", "a read of the tokens failed; loading again")
                await asyncio.sleep(pause)
                pause = min(2 * pause, RETRY_MAX_S)
            self._lists.reset("loading", "loading the tokens")

    async def _load(self, run: _Run) -> None:
        began = time.perf_counter()
        # Read before the first token: every change with an event up to here is in what follows.
        base_event = await run.read(self._events.last_id())
        low, width = 0, FIRST_WIDTH
        while low < HASH_SPACE:
            rows = await run.read(self._reads.hash_range(low, low + width))
            self._lists.load(rows)  # past the most tokens held: TooManyTokens
            low, width = low + width, next_width(width, len(rows))
        await self._lists.index_loaded()
        while not self._lists.loaded(base_event):
            await self._read_again(run)
        took = time.perf_counter() - began
        log.info("lists answer from memory: %d tokens loaded in %.1f s", len(self._lists), took)

    async def _read_again(self, run: _Run) -> None:
        ids = self._lists.take_dirty()
        if ids:
            self._lists.refreshed(ids, await run.read(self._reads.of(ids)))

    def _too_many(self) -> None:
        why = f"more tokens than TOKENS_LIST_MEMORY_TOKENS ({self._lists.max_tokens})"
        if self._lists.why != why:  # once, not at every try
            log.warning("lists read the database: %s", why)
        self._lists.reset("off", why)
