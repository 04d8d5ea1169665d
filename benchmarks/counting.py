"""Usage: verify with counting against verify without it, alternated in one run, the reads of
usage (one token's 2,000-hour series; the summary over every token an admin sees), and the
memory the counts take between flushes with 100k distinct tokens verified.

    .venv/bin/python -m benchmarks.counting [--tokens 10000] [--seconds 4] [--rounds 3]

The services run in child processes (``worker.py``): ``service`` as shipped, and
``service-without-counting``, whose verify counts nothing. Usage buckets are written straight
into the database: one a day for 14 days for every token, and 2,000 hourly ones for one token.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from bson import ObjectId

from tokens_server.domain.models import utcnow
from tokens_server.domain.usage import bucket_start
from tokens_server.storage import connect
from tokens_server.storage.usage_counts import UsageCounter
from tokens_server.storage.usage_layout import DAYS, HOURS, Document, month_of

from . import dataset
from .load import alternate, compared
from .lookups import _verify
from .run import database, say
from .servers import Server, lists_ready, start

TARGET = 0.95
ADMIN = {"Authorization": f"Bearer {dataset.ADMIN_KEY}"}
CONCURRENCY = 16


async def _usage_documents(client: Any, db_name: str, ids: list[str]) -> int:
    """Every token used every day of the last 15 (one or two month documents each), and the
    first one every hour of the last 90 days; written as the flushes would leave them."""
    today = bucket_start(utcnow(), "day")
    months: dict[tuple[str, Any], Document] = {}
    for n, token_id in enumerate(ids):
        for back in range(15):
            day = today - timedelta(days=back)
            key = (token_id, month_of(day))
            doc = months.setdefault(
                key, {"token_id": ObjectId(token_id), "month": month_of(day), "d": {}}
            )
            doc["d"][str(day.day)] = {"uses": n % 50 + back, "revoked": back % 3}
    docs = list(months.values())
    for first in range(0, len(docs), 5000):
        await client[db_name][DAYS].insert_many(docs[first : first + 5000], ordered=False)
    hours = [
        {"token_id": ObjectId(ids[0]), "day": today - timedelta(days=back),
         "h": {str(h): {"uses": 1} for h in range(24)}}
        for back in range(91)
    ]  # fmt: skip
    await client[db_name][HOURS].insert_many(hours)
    return len(docs) + len(hours)


async def _timed(
    session: aiohttp.ClientSession, url: str, params: dict[str, str], n: int
) -> list[float]:
    taken = []
    for _ in range(n):
        started = time.perf_counter()
        async with session.get(url, params=params, headers=ADMIN) as answer:
            await answer.read()
            assert answer.status == 200, answer.status
        taken.append(1000 * (time.perf_counter() - started))
    return taken


async def main(tokens: int, seconds: float, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="tokens-bench-") as tmp:
        workdir = Path(tmp)
        async with database(workdir) as db:
            client = connect(db.uri, 120_000)
            data = await dataset.load(client, "bench_usage", min(1000, tokens), tokens)
            every = [
                str(d["_id"]) async for d in client["bench_usage"]["tokens"].find({}, {"_id": 1})
            ]
            written = await _usage_documents(client, "bench_usage", every)
            say(f"loaded {tokens} tokens and {written} usage documents")
            servers: list[Server] = []
            try:
                for kind in ("service", "service-without-counting"):
                    servers.append(await start(kind, db.uri, "bench_usage", workdir / kind))
                with_counting, without = (s.url for s in servers)
                # Each loads its list memory after it starts: not while the other is measured.
                for server in servers:
                    await lists_ready(server.url)
                await _verify_ratio(with_counting, without, data, seconds, rounds)
                await _reads(with_counting, every[0])
            finally:
                for server in servers:
                    await server.stop()
                await client.close()


async def _verify_ratio(
    with_url: str, without_url: str, data: dataset.Dataset, seconds: float, rounds: int
) -> None:
    auth = {"Authorization": f"Bearer {dataset.CALLER_KEY}"}
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=2 * CONCURRENCY)
    ) as session:
        contenders = {
            name: _verify(session, f"{url}/api/v1/tokens/verify", data.guids, auth)
            for name, url in (("with", with_url), ("without", without_url))
        }
        runs = await alternate(
            contenders, CONCURRENCY, seconds, rounds, warmup=max(1.0, seconds / 2)
        )
    for ratio in compared(
        f"verify with counting vs without (c={CONCURRENCY})",
        runs["with"],
        runs["without"],
        (50, 99),
        TARGET,
        1 / TARGET,
    ):
        say(ratio.line())


def _counter_memory(tokens: int) -> None:
    """What the counts of ``tokens`` distinct tokens take until a flush writes them: one in ten
    refused, as a verify would count them (the ids as the server holds them, as strings)."""
    counter = UsageCounter(*[None] * 3)  # type: ignore[arg-type]  # counting touches no collection
    ids = [str(ObjectId()) for _ in range(tokens)]
    now = utcnow()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for n, token_id in enumerate(ids):
        counter.count(token_id, "revoked" if n % 10 == 0 else "uses", now)
    taken = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    say(
        f"counts of {tokens} distinct tokens between flushes: {taken / 2**20:.1f} MiB "
        f"({taken / tokens:.0f} bytes a token, its id's string not included)"
    )


def _spread(taken: list[float]) -> str:
    return f"p50 {statistics.median(taken):.1f} ms, max {max(taken):.1f} ms"


async def _reads(url: str, token_id: str) -> None:
    async with aiohttp.ClientSession() as session:
        now = bucket_start(utcnow(), "hour")
        window = {
            "bucket": "hour",
            "from": (now - timedelta(hours=1999)).isoformat(),
            "to": (now + timedelta(hours=1)).isoformat(),
        }
        series = await _timed(session, f"{url}/api/v1/tokens/{token_id}/usage", window, 30)
        say(f"series of one token, 2,000 hours: {_spread(series)}")
        for params in ({"sort": "-uses"}, {"sort": "-uses", "series": "day"}):
            summary = await _timed(session, f"{url}/api/v1/usage", params, 10)
            say(f"GET /usage {params}, an admin seeing every token: {_spread(summary)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    _counter_memory(100_000)
    asyncio.run(main(args.tokens, args.seconds, args.rounds))
