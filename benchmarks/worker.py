"""A web app in its own process, so the load generator does not share its GIL.

    BENCH_MONGO_URI=URI python -m benchmarks.worker KIND DB_NAME DATA_DIR

where KIND is service, service-without-history, service-without-counting,
service-lists-from-database or floor, prints ``port N`` once it listens on 127.0.0.1 and serves
until SIGTERM. The URI (it carries the embedded database's password) comes in the environment:
a command line is readable by every local user. ``service`` is the service as shipped.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from tokens_server.app import create_app
from tokens_server.domain.models import TokenPage, TokenQuery
from tokens_server.domain.usage import Outcome
from tokens_server.http.state import REPOSITORY
from tokens_server.logs import RedactingFormatter
from tokens_server.serve import serving
from tokens_server.settings import Settings
from tokens_server.storage.events import Change, EventStore
from tokens_server.storage.token_pages import TokenPages
from tokens_server.storage.usage_counts import UsageCounter

from . import dataset, history
from .floor import create_floor_app

URI_VARIABLE = "BENCH_MONGO_URI"
# Where a service tells how it answered its lists so far (``count_list_sources``).
LIST_SOURCES_PATH = "/bench/list-sources"
# The database's list pages take seconds on the embedded database with many tokens: the service
# that lists from the database may take that long, so that its figures are measured, not refused.
DATABASE_LIST_TIMEOUT_MS = 120_000


def build(kind: str, uri: str, db_name: str, data_dir: Path) -> web.Application:
    """The service or the floor app; the service logs as the real server does."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if kind == "floor":
        return create_floor_app(uri, db_name)
    if kind == "service-without-history":
        switch_off_history()
    if kind == "service-without-counting":
        switch_off_counting()
    from_database = kind == "service-lists-from-database"
    settings = Settings(
        mongo_uri=uri,
        db_name=db_name,
        data_dir=data_dir,
        admin_key=dataset.ADMIN_KEY,
        secret_key=dataset.SECRET,
        # The create benchmark makes thousands of tokens as one user: the per-user limit stays
        # in force (every create takes a slot) but is set past what a run makes.
        max_tokens_per_user=10_000_000,
        # The idle-reader benchmark opens its streams as one user, as many as it measures.
        max_streams_per_user=history.IDLE_READERS,
        # TOKENS_LIST_MEMORY_TOKENS=0 for the service that lists from the database: the "before".
        list_memory_tokens=0 if from_database else Settings.list_memory_tokens,
        list_timeout_ms=DATABASE_LIST_TIMEOUT_MS if from_database else Settings.list_timeout_ms,
    )
    # As the real server runs: the redacting access log through the redacting formatter, written
    # at INFO (here to a file).
    logging.basicConfig(level=logging.INFO, filename=data_dir / "service.log")
    logging.getLogger().handlers[0].setFormatter(
        RedactingFormatter([dataset.ADMIN_KEY, dataset.SECRET])
    )
    count_list_sources()
    app = create_app(settings)
    app.router.add_get(LIST_SOURCES_PATH, _list_sources)
    return app


def count_list_sources() -> None:
    """Count, in this process, each list page the service answers by where it read it: from its
    list memory or from the database (``TokenPages``). The product keeps no such count; the
    benchmark reads it at ``LIST_SOURCES_PATH``."""
    if getattr(TokenPages, "_bench_counted", False):  # once per process (--in-process)
        return
    from_memory, from_database = TokenPages._from_memory, TokenPages._from_database

    def memory(self: TokenPages, query: TokenQuery, now: datetime) -> TokenPage:
        _sources(self)["memory"] += 1
        return from_memory(self, query, now)

    async def database(self: TokenPages, query: TokenQuery, now: datetime) -> TokenPage:
        _sources(self)["database"] += 1
        return await from_database(self, query, now)

    TokenPages._from_memory = memory  # type: ignore[method-assign]
    TokenPages._from_database = database  # type: ignore[method-assign]
    TokenPages._bench_counted = True  # type: ignore[attr-defined]


def _sources(pages: TokenPages) -> Counter[str]:
    counted: Counter[str] = pages.__dict__.setdefault("_bench_sources", Counter())
    return counted


async def _list_sources(request: web.Request) -> web.Response:
    counted = _sources(request.app[REPOSITORY].token_pages)
    return web.json_response({"memory": counted["memory"], "database": counted["database"]})


def switch_off_history() -> None:
    """The counterfactual the history is measured against, in this process only: each change
    runs as before the history existed, on its own, with no transaction, event or journal
    write after it. The product has no such switch."""

    async def without_history(self: EventStore, change: Change[Any]) -> Any:
        result, _ = await change(None)  # type: ignore[arg-type]
        return result

    EventStore.commit = without_history  # type: ignore[method-assign]


def switch_off_counting() -> None:
    """The counterfactual usage counting is measured against, in this process only: verify
    counts nothing. The product has no such switch."""

    def count_nothing(self: UsageCounter, token_id: str, outcome: Outcome, now: datetime) -> None:
        return None

    UsageCounter.count = count_nothing  # type: ignore[method-assign]


def logs_access(kind: str) -> bool:
    """The floor app has no access log: it stands for the least a request can cost."""
    return kind != "floor"


async def _serve(kind: str, uri: str, db_name: str, data_dir: Path) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    app = build(kind, uri, db_name, data_dir)
    async with serving(app, "127.0.0.1", 0, access_log=logs_access(kind)) as addresses:
        print(f"port {addresses[0][1]}", flush=True)
        await stop.wait()


def main() -> None:
    kind, db_name, data_dir = sys.argv[1:4]
    asyncio.run(_serve(kind, os.environ[URI_VARIABLE], db_name, Path(data_dir)))


if __name__ == "__main__":
    main()
