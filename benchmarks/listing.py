"""List pages of a caller who sees 1,000 tokens (200 in --quick): the service (which answers
lists from its memory) against the raw driver running the aggregation the service sends when it
reads the database, and the service's page latency as the collection grows around that caller.

Samples are taken one at a time (no concurrency: this measures latency, not capacity) and
interleaved across the contenders, so a noisy moment hits all of them.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any, get_args

import aiohttp
from pymongo import AsyncMongoClient

from tokens_server.domain.models import Caller, TokenQuery, TokenSort, utcnow
from tokens_server.storage import Repository

from . import dataset
from .stats import Ratio, percentile

SORTS: tuple[str, ...] = get_args(TokenSort)
Document = dict[str, Any]


@dataclass(frozen=True)
class Case:
    filter: str
    sort: str
    params: dict[str, str]  # the HTTP query, without sort/limit

    def query(self) -> TokenQuery:
        """What the service makes of ``params`` for the benchmark caller (scope team-a)."""
        return TokenQuery(
            keywords=tuple(self.params.get("name", "").casefold().split()),
            guid_prefix=self.params.get("guid"),
            scopes=(dataset.CALLER_SCOPE,),
            caller=Caller("bench", False, frozenset({dataset.CALLER_SCOPE}), user_id=""),
            status=self.params.get("status"),  # type: ignore[arg-type]
            sort=self.sort,  # type: ignore[arg-type]
            limit=50,
            offset=0,
            expires_within=_days(self.params.get("expires_within")),
            unused_for=_days(self.params.get("unused_for")),
        )


def _days(text: str | None) -> int | None:
    return None if text is None else int(text)


def filters(guid: str) -> dict[str, dict[str, str]]:
    """Every filter a list accepts, each alone. The dataset's tokens end 90 days from the load,
    or ended within the last 30 days; half were never used, the rest within the last 60."""
    return {
        "none": {},
        "name keywords": {"name": "nightly etl"},
        "guid prefix": {"guid": guid[:6]},
        "scope": {"scope": dataset.CALLER_SCOPE},
        "status active": {"status": "active"},
        "status inactive": {"status": "inactive"},
        "expires_within": {"expires_within": "100"},
        "unused_for": {"unused_for": "30"},
    }


def cases(guid: str) -> list[Case]:
    return [Case(f, s, p) for f, p in filters(guid).items() for s in SORTS]


class _Recorder:
    """Stands in for the tokens collection to capture the pipeline the repository sends."""

    def __init__(self) -> None:
        self.pipeline: list[Document] = []

    async def aggregate(self, pipeline: list[Document]) -> Any:
        self.pipeline = pipeline
        raise _Captured


class _Captured(Exception):
    pass


async def pipeline_of(client: AsyncMongoClient[Document], db_name: str, case: Case) -> list[Any]:
    """The aggregation the service runs for ``case`` (its ``now`` is this moment)."""
    repo = Repository(client, db_name, dataset.keyring())
    recorder = _Recorder()
    repo.token_pages._tokens = recorder  # type: ignore[assignment]
    with contextlib.suppress(_Captured):
        await repo.token_pages.page(case.query(), utcnow())
    return recorder.pipeline


async def _driver_sample(client: AsyncMongoClient[Document], db_name: str,
                         pipeline: list[Any]) -> float:
    started = time.perf_counter()
    cursor = await client[db_name]["tokens"].aggregate(pipeline)
    await cursor.to_list()
    return time.perf_counter() - started


async def _service_sample(session: aiohttp.ClientSession, url: str, case: Case) -> float:
    params = case.params | {"sort": case.sort, "limit": "50"}
    started = time.perf_counter()
    async with session.get(f"{url}/api/v1/tokens", params=params) as response:
        await response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise RuntimeError(f"list {case} answered {response.status}")
    return elapsed


async def measure(client: AsyncMongoClient[Document], services: dict[int, str],
                  data: dict[int, dataset.Dataset], samples: int
                  ) -> tuple[list[Ratio], list[Ratio], dict[str, Any]]:
    """``services`` maps collection size to the URL of a service on that database."""
    sizes = sorted(services)
    smallest, largest = sizes[0], sizes[-1]
    big_db = data[largest].db_name
    headers = {"Authorization": f"Bearer {dataset.CALLER_KEY}"}
    driver: list[Ratio] = []
    scaling: list[Ratio] = []
    raw: dict[str, Any] = {}
    async with aiohttp.ClientSession(headers=headers) as session:
        for case in cases(data[largest].guids[0]):
            pipeline = await pipeline_of(client, big_db, case)
            times: dict[str, list[float]] = {"driver": [], **{str(s): [] for s in sizes}}
            for n in range(samples + 1):  # the first round warms up and is dropped
                round_times = {str(s): await _service_sample(session, services[s], case)
                               for s in sizes}
                round_times["driver"] = await _driver_sample(client, big_db, pipeline)
                if n:
                    for key, value in round_times.items():
                        times[key].append(1000 * value)
            label = f"{case.filter}, sort {case.sort}"
            service = times[str(largest)]
            for q in (50, 99):
                driver.append(Ratio(f"list {label}: p{q}", percentile(service, q),
                                    percentile(times["driver"], q), "ms", 1.25, "<="))
            for size in sizes[1:]:
                scaling.append(Ratio(
                    f"scale {label}: {_count(size)}/{_count(smallest)} p50",
                    percentile(times[str(size)], 50), percentile(times[str(smallest)], 50),
                    "ms", 1.3, "<="))
            raw[label] = times
    return driver, scaling, raw


def _count(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)
