"""Lists from memory (issue 19), as an admin sees them: every token.

- pages: an admin's list page, every filter x every sort, from the list memory of services on
  databases of each size, and from a service on the middle one that lists from the database
  (``TOKENS_LIST_MEMORY_TOKENS=0``): the "before". One request at a time, interleaved across
  the contenders so that a noisy moment hits all of them. The first answer of each contender
  is compared too: memory must answer what the database answers.
- against the floor: list pages with 16 in flight, against a bare aiohttp app slicing the same
  pages from a Python list (``floor.bare_tokens``), alternated.
- start-up: the service on the largest database, from launch to ``/health`` saying ``lists:
  memory``, and its RSS against the same service with its list memory switched off.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp

from . import dataset
from .history import rss_kib
from .listing import Case, cases
from .load import Request, alternate, compared
from .servers import Server, health, lists_ready, start
from .stats import Figure, Ratio, percentile

# The targets for an admin's page with 20,000 visible tokens, from memory.
TARGET_P50_MS = 20.0
TARGET_P99_MS = 50.0
# Page p50 with the most visible tokens over the fewest.
TARGET_SCALING = 1.3
# List throughput against the bare floor.
TARGET_THROUGHPUT = 0.5
TOKENS = "/api/v1/tokens"
ADMIN = {"Authorization": f"Bearer {dataset.ADMIN_KEY}"}
# Pages the floor app holds, and the throughput runs page through.
FLOOR_PAGES = 20
PAGE = 50


def count(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


async def _sample(session: aiohttp.ClientSession, url: str, case: Case) -> tuple[float, bytes]:
    params = case.params | {"sort": case.sort, "limit": str(PAGE)}
    started = time.perf_counter()
    async with session.get(f"{url}{TOKENS}", params=params) as response:
        body = await response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise RuntimeError(f"list {case} answered {response.status}: {body[:200]!r}")
    return 1000 * elapsed, body


async def _sources(url: str) -> dict[str, int]:
    """How the service at ``url`` answered its lists so far (``worker.count_list_sources``)."""
    async with aiohttp.ClientSession() as session, session.get(f"{url}/bench/list-sources") as r:
        counted: dict[str, int] = await r.json()
        return counted


async def pages(services: dict[int, str], at: int, database: str, guid: str, samples: int,
                database_samples: int) -> tuple[list[Ratio], list[Ratio], dict[str, Any]]:
    """``services`` maps a collection size to a service listing from memory on it; ``database``
    lists from the database of size ``at``. Returns the page latencies at ``at`` against the
    targets, the scaling from the smallest to each larger one, and the raw figures.

    Every case from memory first, then every case from the database: the embedded database
    answers one query at a time, and a page that takes it seconds would hold up the memory
    services' reads (their streams, the last event id) and measure that instead."""
    sizes = sorted(services)
    smallest = sizes[0]
    at_memory: list[Ratio] = []
    scaling: list[Ratio] = []
    raw: dict[str, Any] = {"times_ms": {}, "differing": [], "from_database": {}}
    counted = {size: (await _sources(services[size]))["database"] for size in sizes}
    timeout = aiohttp.ClientTimeout(total=None, sock_read=600)
    answers: dict[str, dict[str, bytes]] = {}
    times: dict[str, dict[str, list[float]]] = {}
    async with aiohttp.ClientSession(headers=ADMIN, timeout=timeout) as session:
        for case in cases(guid):
            label = f"{case.filter}, sort {case.sort}"
            times[label] = {str(s): [] for s in [*sizes, "database"]}
            answers[label] = {}
            for n in range(samples + 1):  # the first round warms up and is dropped
                for size in sizes:
                    elapsed, _ = await _sample(session, services[size], case)
                    if n:
                        times[label][str(size)].append(elapsed)
            # Every page above came from memory: a service that fell back to its database (its
            # change stream lost) would have measured the database.
            fell_back = 0
            for size in sizes:
                now = (await _sources(services[size]))["database"]
                fell_back, counted[size] = fell_back + now - counted[size], now
            if fell_back:
                raw["from_database"][label] = fell_back
        # The database takes seconds a page: fewer samples, and no warm-up (the pages before
        # warmed it).
        for case in cases(guid):
            label = f"{case.filter}, sort {case.sort}"
            for n in range(database_samples):
                if n == 0:  # compared with memory's answer of the same moment
                    _, answers[label]["memory"] = await _sample(session, services[at], case)
                elapsed, body = await _sample(session, database, case)
                times[label]["database"].append(elapsed)
                answers[label].setdefault("database", body)
    for label, measured in times.items():
        if json.loads(answers[label]["memory"]) != json.loads(answers[label]["database"]):
            raw["differing"].append({"case": label,
                                     "memory": answers[label]["memory"].decode(),
                                     "database": answers[label]["database"].decode()})
        mine, before = measured[str(at)], measured["database"]
        note = f"database p50 {percentile(before, 50):.0f} ms"
        fell_back = raw["from_database"].get(label, 0)
        if fell_back:
            note += f"; {fell_back} of these pages from the database, not memory"
        at_memory.append(Ratio(f"admin list {label}: p50", percentile(mine, 50),
                               TARGET_P50_MS, "ms", 1.0, "<=", note))
        at_memory.append(Ratio(f"admin list {label}: p99", percentile(mine, 99),
                               TARGET_P99_MS, "ms", 1.0, "<="))
        for size in sizes[1:]:
            scaling.append(Ratio(
                f"admin scale {label}: {count(size)}/{count(smallest)} p50",
                percentile(measured[str(size)], 50), percentile(measured[str(smallest)], 50),
                "ms", TARGET_SCALING, "<="))
        raw["times_ms"][label] = measured
    from_database = sum(raw["from_database"].values())
    at_memory.append(Ratio(
        "lists from memory: answers unlike the database's", len(raw["differing"]),
        len(raw["times_ms"]), "cases", 0.0, "<=", f"{from_database} pages of the services "
        "listing from memory came from their database"))
    return at_memory, scaling, raw


def _page(session: aiohttp.ClientSession, url: str, params: dict[str, str]) -> Request:
    async def request(n: int) -> None:
        query = params | {"limit": str(PAGE), "offset": str(PAGE * (n % FLOOR_PAGES))}
        async with session.get(url, params=query) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"answered {response.status}")

    return request


async def against_floor(service: str, floor: str, concurrency: int, seconds: float,
                        rounds: int) -> tuple[list[Ratio], dict[str, Any]]:
    """An admin's list pages from memory against the same pages sliced from a Python list, for
    the widget's first view (sort by name) and for a filter memory answers by reading every
    token (``status=active``)."""
    views = {"none, sort name": {"sort": "name"},
             "status active, sort name": {"sort": "name", "status": "active"}}
    connector = aiohttp.TCPConnector(limit=2 * concurrency)
    ratios: list[Ratio] = []
    raw: dict[str, Any] = {}
    # The floor ignores the key: it has no authentication.
    async with aiohttp.ClientSession(connector=connector, headers=ADMIN) as session:
        for label, params in views.items():
            items: list[Any] = []
            total = 0
            for n in range(FLOOR_PAGES):
                query = params | {"limit": str(PAGE), "offset": str(PAGE * n)}
                async with session.get(f"{service}{TOKENS}", params=query) as answer:
                    page = await answer.json()
                items += page["items"]
                total = page["total"]
            async with session.put(f"{floor}/bare/tokens",
                                   json={"items": items, "total": total}) as put:
                assert put.status == 204, put.status
            runs = await alternate(
                {"service": _page(session, f"{service}{TOKENS}", params),
                 "floor": _page(session, f"{floor}/bare/tokens", params)},
                concurrency, seconds, rounds, warmup=max(1.0, seconds / 2))
            ratios += compared(f"page from memory ({label}) vs a bare JSON list (c={concurrency})",
                               runs["service"], runs["floor"], throughput=TARGET_THROUGHPUT,
                               latency=1 / TARGET_THROUGHPUT)
            raw[label] = {name: run.summary() for name, run in runs.items()}
    return ratios, raw


async def start_up(uri: str, db_name: str, tokens: int, workdir: Path
                   ) -> tuple[Server, list[Figure], dict[str, Any]]:
    """Start the service on ``db_name`` (``tokens`` tokens) and time it, from launch to serving
    and to lists from memory, with its RSS then; it goes on serving, returned. Before it, the
    same service with its list memory off, for the RSS it takes without."""
    without = await start("service-lists-from-database", uri, db_name, workdir / "start_without")
    try:
        await health(without.url)
        await asyncio.sleep(1)  # settled, as the others are when measured
        assert without.pid is not None
        rss_without = rss_kib(without.pid)
    finally:
        await without.stop()

    launched = time.perf_counter()
    server = await start("service", uri, db_name, workdir / f"service_{tokens}")
    serving = time.perf_counter() - launched
    assert server.pid is not None
    rss_serving = rss_kib(server.pid)
    await lists_ready(server.url)
    ready = time.perf_counter() - launched
    rss_ready = rss_kib(server.pid)
    await asyncio.sleep(1)
    rss_settled = rss_kib(server.pid)

    per_token = (rss_settled - rss_without) / tokens
    name = f"start-up, {tokens:,} tokens"
    figures = [
        Figure(f"{name}: launch to serving", serving, "s"),
        Figure(f"{name}: launch to lists from memory", ready, "s"),
        Figure(f"{name}: RSS, list memory off", rss_without / 1024, "MiB"),
        Figure(f"{name}: RSS when serving", rss_serving / 1024, "MiB", "before the load"),
        Figure(f"{name}: RSS, lists from memory", rss_settled / 1024, "MiB",
               f"{rss_ready / 1024:.0f} MiB the moment it was ready"),
        Figure(f"{name}: list memory per token", per_token, "KiB",
               "RSS with lists from memory less RSS with them off, per token"),
    ]
    raw = {"tokens": tokens, "serving_s": serving, "ready_s": ready,
           "rss_without_kib": rss_without, "rss_serving_kib": rss_serving,
           "rss_ready_kib": rss_ready, "rss_settled_kib": rss_settled,
           "kib_per_token": per_token}
    return server, figures, raw
