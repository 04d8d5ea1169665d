"""The live grid (issue 19): many widgets open on one service while automation writes, and how
many list queries reach the database then.

Each grid holds an ``/events/stream`` open and reloads its page on each burst of events as the
widget's ``live.py`` does: once for every event until then, no sooner than ``RELOAD_GAP`` after
its last reload began, never two at once. Every grid shows the widget's first view (an admin's
first page, sorted by name). The changes (creates, renames, edits, revocations, in turn) go
through another service on the same database, at a steady rate. The grids' service counts how it
answered each list (``worker.count_list_sources``): from its list memory or from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from typing import Any

import aiohttp

from . import dataset
from .servers import health
from .stats import Figure, Ratio, percentile

GRIDS = 50
CHANGES_PER_S = 5.0
STREAM = "/api/v1/events/stream"
TOKENS = "/api/v1/tokens"
ADMIN = {"Authorization": f"Bearer {dataset.ADMIN_KEY}"}
# The widget's first view.
VIEW = {"sort": "name", "limit": "50", "offset": "0"}
EDITED = 10  # tokens the writer renames and edits in turn



def _reload_gap() -> float:
    """The widget's own gap between reloads (its package is an optional extra)."""
    try:
        from tokens_widget.live import RELOAD_GAP
    except ImportError:
        return 0.25
    return RELOAD_GAP


RELOAD_GAP = _reload_gap()


class _Grid:
    """One widget's live grid: its stream, and its page reloaded on each burst of events."""

    def __init__(self, session: aiohttp.ClientSession, url: str, reloads: list[float]) -> None:
        self._session = session
        self._url = url
        self._reloads = reloads  # milliseconds, every grid's
        self.events = 0
        self.failures = 0
        self.reconnects = 0
        self.live = asyncio.Event()
        self._pending: asyncio.Task[None] | None = None
        self._running: asyncio.Task[None] | None = None
        self._last = float("-inf")

    async def follow(self) -> None:
        """Read the stream until cancelled; connect again when it ends, as the widget does."""
        timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
        while True:
            try:
                async with self._session.get(f"{self._url}{STREAM}", timeout=timeout) as stream:
                    await stream.content.readline()  # ": live": subscribed
                    self.live.set()
                    self.reload_soon()  # as the widget does when its feed comes up
                    while line := await stream.content.readline():
                        if line.startswith(b"data: "):
                            self.events += 1
                            self.reload_soon()
            except (aiohttp.ClientError, TimeoutError):
                pass
            self.reconnects += 1
            await asyncio.sleep(RELOAD_GAP)

    def reload_soon(self) -> None:
        if self._pending is not None and not self._pending.done():
            return  # a reload is waiting: this event joins it
        wait = max(0.0, self._last + RELOAD_GAP - asyncio.get_running_loop().time())
        self._pending = asyncio.create_task(self._reload_after(wait))

    async def _reload_after(self, wait: float) -> None:
        await asyncio.sleep(wait)
        if self._running is not None and not self._running.done():
            await asyncio.wait({self._running})
        self._last = asyncio.get_running_loop().time()
        self._pending = None  # events from now on ask for another reload
        self._running = asyncio.create_task(self._reload())
        await self._running

    async def _reload(self) -> None:
        started = time.perf_counter()
        async with self._session.get(f"{self._url}{TOKENS}", params=VIEW) as response:
            await response.read()
        if response.status != 200:
            self.failures += 1
            return
        self._reloads.append(1000 * (time.perf_counter() - started))

    def stop(self) -> list[asyncio.Task[None]]:
        tasks = [t for t in (self._pending, self._running) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        return tasks


async def _sources(session: aiohttp.ClientSession, url: str) -> dict[str, int]:
    async with session.get(f"{url}/bench/list-sources") as answer:
        counted: dict[str, int] = await answer.json()
        return counted


class _Writer:
    """One change every 1/CHANGES_PER_S s until stopped: create a token, rename one, edit one,
    revoke the one made last. A change the service refuses (503: the database did not answer in
    time) is counted, not retried: the next comes at its time."""

    def __init__(self, session: aiohttp.ClientSession, url: str, edited: list[str]) -> None:
        self._session = session
        self._url = url
        self._edited = edited
        self.made = 0
        self.refused: Counter[int] = Counter()
        self.stop = asyncio.Event()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        steps = 0
        created = ""
        while not self.stop.is_set():
            token_id = self._edited[steps % len(self._edited)]
            kind = steps % 4
            url = f"{self._url}{TOKENS}"
            if kind == 0:
                call = self._session.post(url, json={
                    "name": f"Live {steps:05d}", "scopes": [dataset.CALLER_SCOPE]})
            elif kind == 1:
                call = self._session.patch(f"{url}/{token_id}", json={"name": f"Aaa live {steps}"})
            elif kind == 2:
                call = self._session.patch(f"{url}/{token_id}",
                                           json={"description": f"edited {steps}"})
            elif created:
                call = self._session.post(f"{url}/{created}/revoke")
                created = ""
            else:  # the create before was refused
                call = self._session.patch(f"{url}/{token_id}", json={"description": "again"})
            async with call as answer:
                body = await answer.json() if answer.content_type.endswith("json") else {}
            if answer.status in (200, 201):
                self.made += 1
                if kind == 0:
                    created = body["id"]
            elif answer.status >= 500:
                self.refused[answer.status] += 1
            else:
                raise RuntimeError(f"a change answered {answer.status}: {body}")
            steps += 1
            pause = max(0.0, began + steps / CHANGES_PER_S - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), pause)


async def _made(session: aiohttp.ClientSession, url: str, name: str) -> str:
    body = {"name": name, "scopes": [dataset.CALLER_SCOPE]}
    async with session.post(f"{url}{TOKENS}", json=body) as answer:
        if answer.status != 201:
            text = await answer.read()
            raise RuntimeError(f"a create answered {answer.status}: {text[:300]!r}")
        token_id: str = (await answer.json())["id"]
        return token_id


async def measure(grid_url: str, writer_url: str, seconds: float
                  ) -> tuple[list[Ratio], list[Figure], dict[str, Any]]:
    """``GRIDS`` grids on ``grid_url`` for ``seconds`` while ``writer_url`` makes
    ``CHANGES_PER_S`` changes a second on the same database."""
    reloads: list[float] = []
    connector = aiohttp.TCPConnector(limit=2 * GRIDS + 10)
    async with aiohttp.ClientSession(headers=ADMIN, connector=connector) as session:
        edited = [await _made(session, writer_url, f"Edited live {n}") for n in range(EDITED)]
        grids = [_Grid(session, grid_url, reloads) for _ in range(GRIDS)]
        following = [asyncio.create_task(grid.follow()) for grid in grids]
        try:
            await asyncio.wait_for(asyncio.gather(*(g.live.wait() for g in grids)), 60)
            await asyncio.sleep(2 * RELOAD_GAP)  # the first loads, before the count begins
            health_before = (await health(grid_url))["lists"]
            before = await _sources(session, grid_url)
            reloads.clear()
            writer = _Writer(session, writer_url, edited)
            started = time.perf_counter()
            writing = asyncio.create_task(writer.run())
            await asyncio.sleep(seconds)
            writer.stop.set()
            await writing
            await asyncio.sleep(2 * RELOAD_GAP)  # the reloads the last changes asked for
            elapsed = time.perf_counter() - started
            after = await _sources(session, grid_url)
            health_after = (await health(grid_url))["lists"]
        finally:
            stopped = [task for grid in grids for task in grid.stop()]
            for task in following:
                task.cancel()
            await asyncio.gather(*following, *stopped, return_exceptions=True)
    from_database = (after["database"] - before["database"]) / elapsed
    from_memory = (after["memory"] - before["memory"]) / elapsed
    events = sum(g.events for g in grids)
    failures = sum(g.failures for g in grids)
    reconnects = sum(g.reconnects for g in grids)
    name = f"live grid ({GRIDS} grids, {CHANGES_PER_S:g} changes/s)"
    healthy = f"/health lists: {health_before} before, {health_after} after"
    ratios = [Ratio(f"{name}: database lists/s", from_database, from_memory, "/s", 0.0, "<=",
                    f"against pages/s from memory; {healthy}")]
    figures = [
        Figure(f"{name}: page reload p50", percentile(reloads, 50), "ms",
               f"{len(reloads)} reloads, {failures} failed, {len(reloads) / elapsed:.0f}/s"),
        Figure(f"{name}: page reload p99", percentile(reloads, 99), "ms",
               f"{writer.made} changes, {sum(writer.refused.values())} refused; "
               f"{events / GRIDS:.0f} events per grid, {reconnects} reconnections"),
    ]
    raw = {"grids": GRIDS, "seconds": elapsed, "changes": writer.made,
           "changes_refused": dict(writer.refused), "events": events,
           "reloads": len(reloads), "failed_reloads": failures, "reconnects": reconnects,
           "database_lists": after["database"] - before["database"],
           "memory_lists": after["memory"] - before["memory"],
           "reload_p50_ms": percentile(reloads, 50), "reload_p99_ms": percentile(reloads, 99),
           "health_before": health_before, "health_after": health_after}
    return ratios, figures, raw
