"""A bounded load test of the real server on loopback, with a realistic mix of calls.

    python -m tests.load.run_load --seconds 60              # find the concurrency, then hold it
    python -m tests.load.run_load --seconds 60 --concurrency 8

Starts ``python -m tokens_server serve`` on a fresh embedded database, seeds scopes, a user and
tokens, then runs a fixed number of workers until the time is up: list with filters 50 %, get
15 %, verify 20 %, create 5 %, patch 5 %, revoke or delete 5 %. Without ``--concurrency`` it
first tries increasing concurrencies for ``--probe-seconds`` each and holds the highest whose
p99 stays under the target. Reports requests, errors, req/s and p50/p95/p99 per call and
overall; exits 1 on any error or when p99 misses the target.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.server_process import ServerNotReady, ServerProcess

ADMIN_KEY = "load-test-admin-key-0123456789abcdef"
SCOPES = ("analytics", "ops", "billing")
WORDS = ("nightly", "etl", "report", "sync", "export", "backup", "ingest", "dashboard")
MIX = {"list": 50, "get": 15, "verify": 20, "create": 5, "patch": 5, "revoke_or_delete": 5}
REQUEST_TIMEOUT_S = 10.0
MAX_REQUESTS = 2_000_000  # a hard bound besides the clock


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, call: str, elapsed: float, ok: bool, detail: str) -> None:
        self.latencies[call].append(elapsed)
        if not ok:
            self.errors[call] += 1
            if len(self.samples) < 10:
                self.samples.append(f"{call}: {detail}")

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def all_latencies(self) -> list[float]:
        return [x for v in self.latencies.values() for x in v]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def summary(stats: Stats) -> dict[str, Any]:
    def row(values: list[float], errors: int) -> dict[str, Any]:
        return {
            "requests": len(values),
            "errors": errors,
            "req_per_s": round(len(values) / stats.seconds, 1) if stats.seconds else 0.0,
            "p50_ms": round(percentile(values, 50) * 1000, 1),
            "p95_ms": round(percentile(values, 95) * 1000, 1),
            "p99_ms": round(percentile(values, 99) * 1000, 1),
        }

    calls = {name: row(v, stats.errors[name]) for name, v in sorted(stats.latencies.items())}
    return {
        "seconds": round(stats.seconds, 1),
        "overall": row(stats.all_latencies(), sum(stats.errors.values())),
        "calls": calls,
        "error_samples": stats.samples,
    }


@dataclass
class World:
    """Seeded tokens: a stable pool to read and patch, and the ones made during the run."""

    stable: list[dict[str, Any]]
    made: deque[str] = field(default_factory=deque)


def _token_body(rng: random.Random, i: int) -> dict[str, Any]:
    words = rng.sample(WORDS, 2)
    return {
        "name": f"{words[0].title()} {words[1]} {i}",
        "scopes": rng.sample(SCOPES, rng.choice((1, 1, 2))),
        "description": "load test",
    }


async def seed(http: aiohttp.ClientSession, base: str, tokens: int) -> World:
    for scope in SCOPES:
        async with http.post(f"{base}/scopes", json={"name": scope}) as response:
            assert response.status == 201, await response.text()
    rng = random.Random(1)  # noqa: S311 -- test data, not secrets
    stable: list[dict[str, Any]] = []
    semaphore = asyncio.Semaphore(8)

    async def create(i: int) -> None:
        async with semaphore, http.post(f"{base}/tokens", json=_token_body(rng, i)) as response:
            assert response.status == 201, await response.text()
            stable.append(await response.json())

    await asyncio.gather(*(create(i) for i in range(tokens)))
    return World(stable)


Outcome = tuple[int, int]  # the status answered, the status expected
Call = Callable[[aiohttp.ClientSession, str, random.Random, World], Awaitable[Outcome]]


async def _status(response: aiohttp.ClientResponse) -> int:
    await response.read()
    return response.status


async def call_list(
    http: aiohttp.ClientSession, base: str, rng: random.Random, w: World
) -> Outcome:
    params: list[tuple[str, str]] = [("limit", str(rng.choice((10, 25, 50))))]
    kind = rng.random()
    if kind < 0.4:
        params.append(("name", rng.choice(WORDS)))
    elif kind < 0.6:
        params.append(("scope", rng.choice(SCOPES)))
    elif kind < 0.75:
        params.append(("guid", rng.choice(w.stable)["guid"][: rng.choice((4, 8, 36))]))
    if rng.random() < 0.3:
        params.append(("status", rng.choice(("active", "inactive"))))
    params.append(("sort", rng.choice(("name", "-name", "-is_active"))))
    params.append(("offset", str(rng.choice((0, 0, 0, 50, 100)))))
    async with http.get(f"{base}/tokens", params=params) as response:
        return await _status(response), 200


async def call_get(
    http: aiohttp.ClientSession, base: str, rng: random.Random, w: World
) -> Outcome:
    async with http.get(f"{base}/tokens/{rng.choice(w.stable)['id']}") as response:
        return await _status(response), 200


async def call_verify(
    http: aiohttp.ClientSession, base: str, rng: random.Random, w: World
) -> Outcome:
    guid = rng.choice(w.stable)["guid"] if rng.random() < 0.9 else str(uuid.uuid4())
    async with http.post(f"{base}/tokens/verify", json={"guid": guid}) as response:
        return await _status(response), 200


async def call_create(
    http: aiohttp.ClientSession, base: str, rng: random.Random, w: World
) -> Outcome:
    body = _token_body(rng, rng.randrange(10**6))
    async with http.post(f"{base}/tokens", json=body) as response:
        status = await _status(response)
        if status == 201:
            w.made.append((await response.json())["id"])
        return status, 201


async def call_patch(
    http: aiohttp.ClientSession, base: str, rng: random.Random, w: World
) -> Outcome:
    token = rng.choice(w.stable)
    body = {"description": f"changed {rng.randrange(10**6)}"}
    async with http.patch(f"{base}/tokens/{token['id']}", json=body) as response:
        return await _status(response), 200


async def call_revoke_or_delete(
    http: aiohttp.ClientSession, base: str, rng: random.Random, w: World
) -> Outcome:
    if not w.made:  # nothing of our own yet: make one, so the count of calls stays honest
        return await call_create(http, base, rng, w)
    token_id = w.made.popleft()
    if rng.random() < 0.5:
        async with http.post(f"{base}/tokens/{token_id}/revoke") as response:
            return await _status(response), 200
    async with http.delete(f"{base}/tokens/{token_id}") as response:
        return await _status(response), 204


CALLS: dict[str, Call] = {
    "list": call_list,
    "get": call_get,
    "verify": call_verify,
    "create": call_create,
    "patch": call_patch,
    "revoke_or_delete": call_revoke_or_delete,
}


async def run(base: str, world: World, concurrency: int, seconds: float, seed_: int) -> Stats:
    stats = Stats()
    names, weights = list(MIX), list(MIX.values())
    deadline = time.monotonic() + seconds
    budget = [MAX_REQUESTS]
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}

    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as http:

        async def worker(n: int) -> None:
            rng = random.Random(seed_ * 1000 + n)  # noqa: S311 -- a reproducible mix
            while time.monotonic() < deadline and budget[0] > 0:
                budget[0] -= 1
                name = rng.choices(names, weights)[0]
                started = time.perf_counter()
                try:
                    status, expected = await CALLS[name](http, base, rng, world)
                    ok, detail = status == expected, f"{status} (expected {expected})"
                except (aiohttp.ClientError, TimeoutError) as error:
                    ok, detail = False, f"{type(error).__name__}: {error}"
                stats.add(name, time.perf_counter() - started, ok, detail)

        started = time.monotonic()
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        stats.seconds = time.monotonic() - started
    return stats


def _line(label: str, row: dict[str, Any]) -> str:
    return (
        f"{label:<18} {row['requests']:>8} {row['errors']:>6} {row['req_per_s']:>8} "
        f"{row['p50_ms']:>8} {row['p95_ms']:>8} {row['p99_ms']:>8}"
    )


def report(concurrency: int, stats: Stats) -> dict[str, Any]:
    result = summary(stats)
    print(f"\nconcurrency {concurrency}, {result['seconds']} s")
    print(f"{'call':<18} {'requests':>8} {'errors':>6} {'req/s':>8} "
          f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")  # fmt: skip
    for name, row in result["calls"].items():
        print(_line(name, row))
    print(_line("overall", result["overall"]))
    for sample in result["error_samples"]:
        print("  error:", sample)
    return result


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tokens-load-") as tmp:
        try:
            server = ServerProcess.start(Path(tmp) / "data", admin_key=ADMIN_KEY)
        except ServerNotReady as error:
            raise SystemExit(str(error)) from None  # a script: the message, not a traceback
        with server:
            base = f"{server.url}/api/v1"
            headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
            async with aiohttp.ClientSession(headers=headers) as http:
                world = await seed(http, base, args.tokens)
            print(f"server {server.url}, {len(world.stable)} tokens seeded")
            concurrency = args.concurrency
            if concurrency is None:
                concurrency = 1
                for candidate in args.probe:
                    stats = await run(base, world, candidate, args.probe_seconds, candidate)
                    p99 = summary(stats)["overall"]["p99_ms"]
                    report(candidate, stats)
                    if p99 >= args.target_p99_ms or sum(stats.errors.values()):
                        break
                    concurrency = candidate
                print(f"\nholding concurrency {concurrency} for {args.seconds} s")
            stats = await run(base, world, concurrency, args.seconds, 0)
            result = report(concurrency, stats)
    result["concurrency"] = concurrency
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to hold the load")
    parser.add_argument("--concurrency", type=int, help="workers; default: the highest that "
                        "keeps p99 under the target in short probes")  # fmt: skip
    parser.add_argument("--probe", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--probe-seconds", type=float, default=8.0)
    parser.add_argument("--target-p99-ms", type=float, default=200.0)
    parser.add_argument("--tokens", type=int, default=2000, help="tokens to seed")
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args()
    if not 0 < args.seconds <= 3600:
        parser.error("--seconds must be in (0, 3600]")
    result = asyncio.run(main_async(args))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    failed = result["overall"]["errors"] > 0 or result["overall"]["p99_ms"] >= args.target_p99_ms
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
