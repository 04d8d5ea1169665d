"""A bounded load test of the service with a realistic mix of calls.

    python -m benchmarks.mix --seconds 60             # find the concurrency, then hold it
    python -m benchmarks.mix --seconds 60 --concurrency 8

Starts an embedded database and the service in a child process (as ``python -m benchmarks``
does), seeds scopes and tokens as the admin, then keeps a fixed number of requests in flight
until the time is up: list with filters 50 %, get 15 %, verify 20 %, create 5 %, patch 5 %,
revoke or delete 5 %. Without ``--concurrency`` it first tries increasing concurrencies for
``--probe-seconds`` each and holds the highest whose p99 stays under the target. Reports
requests, errors, req/s and p50/p95/p99 per call and overall; exits 1 on any error or when p99
misses the target.

Longer than most modules: the six calls of the mix and the report read best side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from . import dataset
from .load import Run, closed_loop
from .run import database
from .servers import start
from .stats import percentile

SCOPES = ("analytics", "ops", "billing")
WORDS = ("nightly", "etl", "report", "sync", "export", "backup", "ingest", "dashboard")
MIX = {"list": 50, "get": 15, "verify": 20, "create": 5, "patch": 5, "revoke_or_delete": 5}
REQUEST_TIMEOUT_S = 10.0
ADMIN = {"Authorization": f"Bearer {dataset.ADMIN_KEY}"}


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
    rng = random.Random(1)
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


async def call_list(http: aiohttp.ClientSession, base: str, rng: random.Random,
                    w: World) -> Outcome:
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


async def call_get(http: aiohttp.ClientSession, base: str, rng: random.Random,
                   w: World) -> Outcome:
    async with http.get(f"{base}/tokens/{rng.choice(w.stable)['id']}") as response:
        return await _status(response), 200


async def call_verify(http: aiohttp.ClientSession, base: str, rng: random.Random,
                      w: World) -> Outcome:
    guid = rng.choice(w.stable)["guid"] if rng.random() < 0.9 else str(uuid.uuid4())
    async with http.post(f"{base}/tokens/verify", json={"guid": guid}) as response:
        return await _status(response), 200


async def call_create(http: aiohttp.ClientSession, base: str, rng: random.Random,
                      w: World) -> Outcome:
    body = _token_body(rng, rng.randrange(10**6))
    async with http.post(f"{base}/tokens", json=body) as response:
        status = await _status(response)
        if status == 201:
            w.made.append((await response.json())["id"])
        return status, 201


async def call_patch(http: aiohttp.ClientSession, base: str, rng: random.Random,
                     w: World) -> Outcome:
    token = rng.choice(w.stable)
    body = {"description": f"changed {rng.randrange(10**6)}"}
    async with http.patch(f"{base}/tokens/{token['id']}", json=body) as response:
        return await _status(response), 200


async def call_revoke_or_delete(http: aiohttp.ClientSession, base: str, rng: random.Random,
                                w: World) -> Outcome:
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


class WrongAnswer(Exception):
    """A call answered another status than expected, or failed on the way."""


class Mix:
    """One request of the mix per call, drawn reproducibly from its number; each call's
    latencies and errors kept apart."""

    def __init__(self, http: aiohttp.ClientSession, base: str, world: World, seed: int) -> None:
        self.http, self.base, self.world, self.seed = http, base, world, seed
        self.calls = {name: Run() for name in MIX}
        self.error_samples: list[str] = []

    async def __call__(self, number: int) -> None:
        rng = random.Random(self.seed * 10**9 + number)
        name = rng.choices(list(MIX), list(MIX.values()))[0]
        run = self.calls[name]
        started = time.perf_counter()
        try:
            status, expected = await CALLS[name](self.http, self.base, rng, self.world)
            detail = "" if status == expected else f"{status} (expected {expected})"
        except (aiohttp.ClientError, TimeoutError) as error:
            detail = f"{type(error).__name__}: {error}"
        if not detail:
            run.latencies.append(time.perf_counter() - started)
            return
        run.errors += 1
        if len(self.error_samples) < 10:
            self.error_samples.append(f"{name}: {detail}")
        raise WrongAnswer(detail)


async def hold(base: str, world: World, concurrency: int, seconds: float,
               seed: int) -> dict[str, Any]:
    """Run the mix at ``concurrency`` for ``seconds``; answer the summary."""
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                     headers=ADMIN) as http:
        mix = Mix(http, base, world, seed)
        overall = await closed_loop(mix, concurrency, seconds)
    for run in mix.calls.values():
        run.seconds = overall.seconds
    return {
        "concurrency": concurrency,
        "seconds": round(overall.seconds, 1),
        "overall": _row(overall),
        "calls": {name: _row(run) for name, run in mix.calls.items()},
        "error_samples": mix.error_samples,
    }


def _row(run: Run) -> dict[str, Any]:
    return {
        "requests": len(run.latencies) + run.errors,
        "errors": run.errors,
        "req_per_s": round(run.rate, 1),
        **{f"p{q}_ms": round(percentile(run.latencies, q) * 1000, 1) for q in (50, 95, 99)},
    }


def _line(label: str, row: dict[str, Any]) -> str:
    return (f"{label:<18} {row['requests']:>8} {row['errors']:>6} {row['req_per_s']:>8} "
            f"{row['p50_ms']:>8} {row['p95_ms']:>8} {row['p99_ms']:>8}")


def report(result: dict[str, Any]) -> None:
    print(f"\nconcurrency {result['concurrency']}, {result['seconds']} s")
    print(f"{'call':<18} {'requests':>8} {'errors':>6} {'req/s':>8} "
          f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name, row in result["calls"].items():
        print(_line(name, row))
    print(_line("overall", result["overall"]))
    for sample in result["error_samples"]:
        print("  error:", sample)


def _passed(result: dict[str, Any], target_p99_ms: float) -> bool:
    overall = result["overall"]
    return overall["errors"] == 0 and overall["p99_ms"] < target_p99_ms


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tokens-mix-") as tmp:
        workdir = Path(tmp)
        async with database(workdir / "database") as db:
            server = await start("service", db.uri, "mix", workdir / "service")
            try:
                base = f"{server.url}/api/v1"
                async with aiohttp.ClientSession(headers=ADMIN) as http:
                    world = await seed(http, base, args.tokens)
                print(f"service {server.url}, {len(world.stable)} tokens seeded", flush=True)
                concurrency = args.concurrency
                if concurrency is None:
                    concurrency = 1
                    for candidate in args.probe:
                        probed = await hold(base, world, candidate, args.probe_seconds, candidate)
                        report(probed)
                        if not _passed(probed, args.target_p99_ms):
                            break
                        concurrency = candidate
                    print(f"\nholding concurrency {concurrency} for {args.seconds} s")
                result = await hold(base, world, concurrency, args.seconds, 0)
                report(result)
            finally:
                await server.stop()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mix",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to hold the load")
    parser.add_argument("--concurrency", type=int, help="requests in flight; default: the "
                        "highest that keeps p99 under the target in short probes")
    parser.add_argument("--probe", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--probe-seconds", type=float, default=8.0)
    parser.add_argument("--target-p99-ms", type=float, default=200.0)
    parser.add_argument("--tokens", type=int, default=2000, help="tokens to seed")
    parser.add_argument("--json", type=Path, help="also write the result to this file")
    args = parser.parse_args()
    if not 0 < args.seconds <= 3600:
        parser.error("--seconds must be in (0, 3600]")
    result = asyncio.run(main_async(args))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if _passed(result, args.target_p99_ms) else 1


if __name__ == "__main__":
    raise SystemExit(main())
