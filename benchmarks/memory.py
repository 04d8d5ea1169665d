"""What answering from memory buys and costs: an authenticated no-op against a bare handler,
how soon another instance refuses a revoked token, and the memory a process holding every token
of the largest collection takes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from pymongo import AsyncMongoClient

from . import dataset
from .history import rss_kib
from .load import Request, alternate, compared
from .stats import Ratio, percentile

# The promise README states: a revoked token is refused on every instance within this.
PROPAGATION_TARGET_MS = 100.0
# Tokens the memory benchmark projects to, as the issue asks.
HELD_TARGET = 100_000


def _call(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> Request:
    async def request(_: int) -> None:
        async with session.get(url, headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"answered {response.status}")

    return request


async def me(service_url: str, floor_url: str, concurrency: int, seconds: float,
             rounds: int) -> tuple[list[Ratio], dict[str, Any]]:
    """``GET /me`` (authenticated, from memory) against a bare aiohttp JSON handler."""
    auth = {"Authorization": f"Bearer {dataset.CALLER_KEY}"}
    connector = aiohttp.TCPConnector(limit=2 * concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        runs = await alternate(
            {"service": _call(session, f"{service_url}/api/v1/me", auth),
             "bare": _call(session, f"{floor_url}/bare/me", {})},
            concurrency, seconds, rounds, warmup=max(1.0, seconds / 2))
    ratios = compared(f"GET /me vs a bare JSON handler (c={concurrency})", runs["service"],
                      runs["bare"], throughput=0.5)
    return ratios, {name: run.summary() for name, run in runs.items()}


async def propagation(writer: str, reader: str, samples: int) -> tuple[list[Ratio],
                                                                         dict[str, Any]]:
    """Revoke through ``writer``; verify through ``reader`` until refused; ``samples`` times.
    Each token is verified on ``reader`` first, so that its memory holds it."""
    auth = {"Authorization": f"Bearer {dataset.CALLER_KEY}"}
    delays = []
    async with aiohttp.ClientSession(headers=auth) as session:
        for n in range(samples):
            body = {"name": f"propagation {n}", "scopes": [dataset.CALLER_SCOPE]}
            async with session.post(f"{writer}/api/v1/tokens", json=body) as made:
                token = await made.json()
            assert await _status(session, reader, token["guid"]) == "active"
            async with session.post(f"{writer}/api/v1/tokens/{token['id']}/revoke") as revoked:
                await revoked.read()
                assert revoked.status == 200, revoked.status
            committed = time.perf_counter()
            while await _status(session, reader, token["guid"]) != "revoked":  # noqa: ASYNC110
                await asyncio.sleep(0.001)
            delays.append(1000 * (time.perf_counter() - committed))
    p50, p99 = percentile(delays, 50), percentile(delays, 99)
    note = f"p50 {p50:.1f} ms, max {max(delays):.1f} ms, {samples} revocations"
    ratios = [Ratio("revoked on A -> refused by B: p99", p99, PROPAGATION_TARGET_MS, "ms", 1.0,
                    "<=", note)]
    return ratios, {"samples": samples, "p50_ms": p50, "p99_ms": p99, "max_ms": max(delays)}


async def _status(session: aiohttp.ClientSession, url: str, guid: str) -> str:
    async with session.post(f"{url}/api/v1/tokens/verify", json={"guid": guid}) as response:
        status: str = (await response.json())["status"]
        return status


async def held(client: AsyncMongoClient[dataset.Document], url: str, pid: int | None,
               db_name: str, concurrency: int) -> tuple[list[Ratio], dict[str, Any]]:
    """RSS of the service at ``pid`` before and after it has read every token once."""
    assert pid is not None, "the service must run in its own process"
    ids = [str(doc["_id"]) async for doc in client[db_name]["tokens"].find({}, {"_id": 1})]
    before = rss_kib(pid)
    admin = {"Authorization": f"Bearer {dataset.ADMIN_KEY}"}
    connector = aiohttp.TCPConnector(limit=2 * concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        queue = iter(ids)

        async def reader() -> None:
            for token_id in queue:
                async with session.get(f"{url}/api/v1/tokens/{token_id}", headers=admin) as r:
                    await r.read()

        await asyncio.gather(*(reader() for _ in range(concurrency)))
    after = rss_kib(pid)
    per_token = (after - before) / len(ids)
    projected = before + per_token * HELD_TARGET
    note = (f"{per_token:.2f} KiB per token; {HELD_TARGET:,} tokens would take "
            f"{projected / 1024:.0f} MiB")
    ratios = [Ratio(f"memory holding {len(ids):,} tokens", after, before, "KiB", 4.0, "<=",
                    note)]
    return ratios, {"tokens": len(ids), "rss_before_kib": before, "rss_after_kib": after,
                    "kib_per_token": per_token}
