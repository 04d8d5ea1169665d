"""A closed-loop load generator: N workers, each sends its next request when the last answered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .stats import Ratio, percentile

# One request number in, awaits the request; raises on a wrong answer.
Request = Callable[[int], Awaitable[None]]


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)  # seconds
    seconds: float = 0.0
    errors: int = 0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def add(self, other: Run) -> None:
        self.latencies += other.latencies
        self.seconds += other.seconds
        self.errors += other.errors

    def summary(self) -> dict[str, float]:
        return {
            "requests": len(self.latencies),
            "seconds": self.seconds,
            "errors": self.errors,
            "rate": self.rate,
            "p50_ms": 1000 * percentile(self.latencies, 50),
            "p99_ms": 1000 * percentile(self.latencies, 99),
        }


def compared(name: str, run: Run, floor: Run, percentiles: tuple[int, ...] = (99,),
             throughput: float = 0.8, latency: float = 1.5) -> list[Ratio]:
    """``run`` against ``floor`` measured beside it: throughput, then each latency percentile,
    against those targets."""
    errors = ""
    if run.errors or floor.errors:
        errors = f"failed requests: {run.errors} measured, {floor.errors} in what it is against"
    ratios = [Ratio(f"{name}: throughput", run.rate, floor.rate, "req/s", throughput, ">=",
                    errors)]
    for q in percentiles:
        ratios.append(Ratio(f"{name}: p{q}", 1000 * percentile(run.latencies, q),
                            1000 * percentile(floor.latencies, q), "ms", latency, "<="))
    return ratios


async def closed_loop(request: Request, concurrency: int, seconds: float) -> Run:
    """Keep ``concurrency`` requests in flight for ``seconds``; time each one."""
    run = Run()
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                await request(next(counter))
            except Exception:
                run.errors += 1
                continue
            run.latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.seconds = time.perf_counter() - started
    return run


async def alternate(contenders: dict[str, Request], concurrency: int, seconds: float,
                    rounds: int, warmup: float) -> dict[str, Run]:
    """Run each contender in turn, ``rounds`` times, so machine noise falls on all of them."""
    for request in contenders.values():
        await closed_loop(request, concurrency, warmup)
    runs = {name: Run() for name in contenders}
    for _ in range(rounds):
        for name, request in contenders.items():
            runs[name].add(await closed_loop(request, concurrency, seconds))
    return runs

