"""The history and the live feed: what writing an event with each change costs, how soon a
change reaches a reader of another instance, and what an idle reader holds in memory.

- writes: creates and patches (half each, 16 in flight) through the service, against the same
  service started with the history switched off (``worker.switch_off_history``), alternated;
  and patches alone, the same way;
- latency: one change at a time through one service process, read from the event stream of
  another process on the same database;
- memory: the RSS of a service process before and after 500 readers open its stream.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp

from . import dataset
from .load import Request, alternate, compared
from .stats import Ratio, percentile

STREAM = "/api/v1/events/stream"
LATENCY_TARGET_MS = 250.0
IDLE_READERS = 500


def _writes(session: aiohttp.ClientSession, url: str, patched: list[str],
            creates: bool = True) -> Request:
    """Half creates, half patches; only patches unless ``creates``."""

    async def request(n: int) -> None:
        body: dict[str, Any]
        if n % 2 or not creates:
            token_id = patched[n % len(patched)]
            body = {"description": f"patched {n}"}
            async with session.patch(f"{url}/api/v1/tokens/{token_id}", json=body) as answer:
                await answer.read()
                if answer.status != 200:
                    raise RuntimeError(f"patch answered {answer.status}")
        else:
            body = {"name": f"Written {n}", "scopes": [dataset.CALLER_SCOPE]}
            async with session.post(f"{url}/api/v1/tokens", json=body) as answer:
                await answer.read()
                if answer.status != 201:
                    raise RuntimeError(f"create answered {answer.status}")

    return request


async def _made(session: aiohttp.ClientSession, url: str, count: int) -> list[str]:
    ids = []
    for n in range(count):
        body = {"name": f"Patched {n}", "scopes": [dataset.CALLER_SCOPE]}
        async with session.post(f"{url}/api/v1/tokens", json=body) as answer:
            ids.append((await answer.json())["id"])
    return ids


async def writes(with_history: str, without_history: str, concurrency: int, seconds: float,
                 rounds: int, creates: bool = True) -> tuple[list[Ratio], dict[str, Any]]:
    """Creates and patches (only patches unless ``creates``) with the history and without."""
    connector = aiohttp.TCPConnector(limit=2 * concurrency)
    async with aiohttp.ClientSession(headers=_auth(), connector=connector) as session:
        patched = await _made(session, with_history, 2 * concurrency)
        runs = await alternate(
            {"with history": _writes(session, with_history, patched, creates),
             "without history": _writes(session, without_history, patched, creates)},
            concurrency, seconds, rounds, warmup=min(1.0, seconds / 2),
        )
    name = "writes" if creates else "patches"
    # The patch target is issue 20's: a change and its event cost about what the change alone
    # does once changes share their transactions and journal waits.
    ratios = compared(f"{name} with history (c={concurrency})", runs["with history"],
                      runs["without history"], throughput=0.8 if creates else 0.9)
    return ratios, {name: run.summary() for name, run in runs.items()}


async def latency(writer: str, reader: str, samples: int) -> tuple[list[Ratio], dict[str, Any]]:
    """Change through ``writer``, read from ``reader``'s stream: ``samples`` times, one at once."""
    delays = []
    async with aiohttp.ClientSession(headers=_auth()) as session:
        [token_id] = await _made(session, writer, 1)
        timeout = aiohttp.ClientTimeout(total=None, sock_read=30)
        async with session.get(f"{reader}{STREAM}", timeout=timeout) as stream:
            await stream.content.readline()  # ": live": the reader is subscribed
            for n in range(samples):
                started = time.perf_counter()
                body = {"description": f"sample {n}"}
                async with session.patch(f"{writer}/api/v1/tokens/{token_id}", json=body) as r:
                    await r.read()
                await _event_about(stream, token_id)
                delays.append(1000 * (time.perf_counter() - started))
    p50, p99 = percentile(delays, 50), percentile(delays, 99)
    note = f"p50 {p50:.1f} ms, {samples} changes across two processes"
    ratios = [Ratio("change -> reader of another instance: p99", p99, LATENCY_TARGET_MS, "ms",
                    1.0, "<=", note)]
    return ratios, {"samples": samples, "p50_ms": p50, "p99_ms": p99, "max_ms": max(delays)}


async def _event_about(stream: aiohttp.ClientResponse, token_id: str) -> None:
    while True:
        line = await stream.content.readline()
        if line.startswith(b"data: ") and json.loads(line[6:])["token_id"] == token_id:
            return


async def idle_readers(url: str, pid: int | None) -> tuple[list[Ratio], dict[str, Any]]:
    """RSS of the process at ``pid`` before and after IDLE_READERS streams open on it."""
    assert pid is not None, "the service must run in its own process"
    before = rss_kib(pid)
    connector = aiohttp.TCPConnector(limit=IDLE_READERS + 10)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
    async with aiohttp.ClientSession(headers=_auth(), connector=connector) as session:
        streams = await asyncio.gather(
            *(session.get(f"{url}{STREAM}", timeout=timeout) for _ in range(IDLE_READERS)))
        try:
            await asyncio.gather(*(s.content.readline() for s in streams))
            await asyncio.sleep(1)
            during = rss_kib(pid)
        finally:
            for stream in streams:
                stream.close()
    per_reader = (during - before) / IDLE_READERS
    # No target is given; the floor is the process itself before the readers came.
    ratios = [Ratio(f"memory with {IDLE_READERS} idle readers", during, before, "KiB", 1.5, "<=",
                    f"{per_reader:.1f} KiB per reader")]
    return ratios, {"rss_before_kib": before, "rss_with_readers_kib": during,
                    "kib_per_reader": per_reader}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {dataset.CALLER_KEY}"}
