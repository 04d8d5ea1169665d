"""The whole benchmark: start a database, load it, start the apps, measure, report."""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from tokens_server.embedded import EmbeddedDatabase
from tokens_server.storage import connect

from . import (
    bulk,
    create,
    dataset,
    history,
    listing,
    lists,
    live_grid,
    lookups,
    machine,
    memory,
    widget,
)
from .servers import Server, lists_ready, start
from .stats import Figure, Ratio, not_measured

RESULTS = Path(__file__).parent / "results"


@dataclass(frozen=True)
class Plan:
    visible: int  # tokens the benchmark caller sees, in every database
    # collection sizes; the smallest holds only the caller's tokens, and an admin's lists are
    # measured against the database's on the middle one
    sizes: tuple[int, ...]
    concurrency: int
    seconds: float  # per alternating run
    rounds: int
    list_samples: int  # per list case and contender
    latency_samples: int  # changes timed from one instance to a reader of another
    revocations: int  # revocations timed from one instance to a refusal by another
    database_samples: int  # per admin list case, from the service that lists from the database
    grid_seconds: float  # of changes under the live grids
    bulk_samples: int  # bulk requests of 500 ids, of each kind


FULL = Plan(visible=1000, sizes=(1000, 20_000, 100_000), concurrency=16, seconds=4, rounds=3,
            list_samples=12, latency_samples=300, revocations=200, database_samples=3,
            grid_seconds=30, bulk_samples=5)
QUICK = Plan(visible=200, sizes=(200, 2000, 10_000), concurrency=16, seconds=1.5, rounds=1,
             list_samples=3, latency_samples=50, revocations=200, database_samples=1,
             grid_seconds=8, bulk_samples=3)


def say(text: str) -> None:
    print(text, flush=True)


@contextlib.asynccontextmanager
async def database(workdir: Path) -> AsyncIterator[EmbeddedDatabase]:
    db = EmbeddedDatabase(workdir)
    await db.start()
    try:
        yield db
    finally:
        await db.stop()


async def run(plan: Plan, in_process: bool, writes: bool = False) -> dict[str, Any]:
    """Every figure; only those of writes (create, history, bulk) when ``writes``."""
    if writes:
        plan = replace(plan, sizes=plan.sizes[:1])
    ratios: list[Ratio] = []
    figures: list[Figure] = []
    raw: dict[str, Any] = {}
    phases: dict[str, float] = {}
    clock = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal clock
        phases[name] = round(time.perf_counter() - clock, 1)
        clock = time.perf_counter()

    def show(new: list[Ratio]) -> None:
        ratios.extend(new)
        for ratio in new:
            say(ratio.line())

    def tell(new: list[Figure]) -> None:
        figures.extend(new)
        for figure in new:
            say(figure.line())

    with tempfile.TemporaryDirectory(prefix="tokens-bench-") as tmp:
        workdir = Path(tmp)
        async with database(workdir) as db:
            client = connect(db.uri, 120_000)  # bulk loads take longer than a request may
            servers: list[Server] = []
            try:
                data: dict[int, dataset.Dataset] = {}
                for size in plan.sizes:
                    data[size] = await dataset.load(client, f"bench_{size}", plan.visible, size)
                    say(f"loaded {size} tokens")
                await dataset.check_format(client, data[plan.sizes[0]].db_name)
                phase("load")

                services: dict[int, str] = {}
                smallest, largest = plan.sizes[0], plan.sizes[-1]
                middle = plan.sizes[len(plan.sizes) // 2]
                for size in plan.sizes[:-1]:
                    server = await start("service", db.uri, data[size].db_name,
                                         workdir / f"service_{size}", in_process)
                    servers.append(server)
                    services[size] = server.url
                    waited = await lists_ready(server.url)
                    say(f"lists from memory on {size} tokens, {waited:.1f} s after serving")
                from_database = await start("service-lists-from-database", db.uri,
                                            data[middle].db_name, workdir / "service_database",
                                            in_process)
                servers.append(from_database)
                floor = await start("floor", db.uri, data[largest].db_name, workdir / "floor",
                                    in_process)
                servers.append(floor)
                phase("start apps")
                # The largest last, alone: its start-up is measured.
                if in_process:
                    say(not_measured("start-up with lists from memory", "apps run in this process"))
                    server = await start("service", db.uri, data[largest].db_name,
                                         workdir / f"service_{largest}", in_process)
                    await lists_ready(server.url)
                else:
                    server, told, raw["start_up"] = await lists.start_up(
                        db.uri, data[largest].db_name, largest, workdir)
                    tell(told)
                servers.append(server)
                services[largest] = server.url
                largest_pid = server.pid
                phase("start-up")
                if not writes:
                    say(f"apps {'in this process' if in_process else 'in child processes'}; "
                        f"lookups on {largest} tokens")

                    new, raw["lookups"] = await lookups.measure(
                        services[largest], floor.url, data[largest], plan.concurrency,
                        plan.seconds, plan.rounds)
                    show(new)
                    new, raw["me"] = await memory.me(services[largest], floor.url, plan.concurrency,
                                                     plan.seconds, plan.rounds)
                    show(new)
                    phase("lookups")

                    in_list, in_scale, raw["list"] = await listing.measure(
                        client, services, data, plan.list_samples)
                    show(in_list)
                    show(in_scale)
                    phase("list and scaling")

                    in_memory, admin_scale, raw["admin_lists"] = await lists.pages(
                        services, middle, from_database.url, data[smallest].guids[0],
                        plan.list_samples, plan.database_samples)
                    show(in_memory)
                    show(admin_scale)
                    phase("admin lists")
                    # The pages from the database held the embedded database for seconds each;
                    # a service whose stream timed out meanwhile reloads its list memory first.
                    waited = {size: await lists_ready(url) for size, url in services.items()}
                    say(f"lists from memory again after the database's pages: {waited}")
                    raw["lists_ready_again_s"] = waited
                    new, raw["list_floor"] = await lists.against_floor(
                        services[middle], floor.url, plan.concurrency, plan.seconds, plan.rounds)
                    show(new)
                    phase("list floor")

                    measured = await widget.measure(services[largest])
                    if measured is None:
                        say(not_measured("widget page change", "widget not present"))
                    else:
                        show(measured[0])
                        raw["widget"] = measured[1]
                    phase("widget")

                new, raw["create"] = await create.measure(
                    client, services[smallest], data[smallest].db_name, plan.concurrency,
                    plan.seconds, plan.rounds)
                show(new)
                phase("create")

                db_name = data[smallest].db_name
                other = await start("service", db.uri, db_name, workdir / "service_other",
                                    in_process)
                servers.append(other)
                new, raw["latency"] = await history.latency(
                    other.url, services[smallest], plan.latency_samples)
                show(new)
                new, raw["propagation"] = await memory.propagation(
                    other.url, services[smallest], plan.revocations)
                show(new)
                if in_process:
                    # Switching the history off is process-wide: it would reach every app here.
                    say(not_measured("writes with history", "apps run in this process"))
                    say(not_measured("memory of idle readers", "apps run in this process"))
                else:
                    without = await start("service-without-history", db.uri, db_name,
                                          workdir / "service_without_history")
                    servers.append(without)
                    new, raw["writes"] = await history.writes(
                        services[smallest], without.url, plan.concurrency, plan.seconds,
                        plan.rounds)
                    show(new)
                    new, raw["patches"] = await history.writes(
                        services[smallest], without.url, plan.concurrency, plan.seconds,
                        plan.rounds, creates=False)
                    show(new)
                    new, raw["idle_readers"] = await history.idle_readers(other.url, other.pid)
                    show(new)
                phase("history")
                new, raw["bulk"] = await bulk.measure(client, services[smallest], db_name,
                                                      plan.bulk_samples)
                show(new)
                phase("bulk")
                if not writes:
                    if in_process:
                        say(not_measured("memory holding every token", "apps run in this process"))
                    else:
                        new, raw["held"] = await memory.held(
                            client, services[largest], largest_pid, data[largest].db_name,
                            plan.concurrency)
                        show(new)
                    phase("memory")
                    new, told, raw["live_grid"] = await live_grid.measure(
                        services[middle], from_database.url, plan.grid_seconds)
                    show(new)
                    tell(told)
                    phase("live grid")
            finally:
                for server in servers:
                    await server.stop()
                await client.close()
    return {
        "plan": asdict(plan),
        "apps": "in-process" if in_process else "child processes",
        "machine": machine.describe(),
        "phases_s": phases,
        "ratios": [r.as_json() for r in ratios],
        "figures": [f.as_json() for f in figures],
        "raw": raw,
    }


def main(quick: bool, in_process: bool, output: Path | None, writes: bool = False) -> int:
    plan = QUICK if quick else FULL
    started = time.perf_counter()
    result = asyncio.run(run(plan, in_process, writes))
    result["total_s"] = round(time.perf_counter() - started, 1)
    result["mode"] = ("quick" if quick else "full") + (", writes only" if writes else "")
    target = output or RESULTS / ("writes.json" if writes else "latest.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=1) + "\n")
    missed = sum(not r["passed"] for r in result["ratios"])
    say(f"{len(result['ratios'])} ratios, {missed} missed; {result['total_s']} s; "
        f"raw figures in {target}")
    return 0
