"""Run an app on a TCP port: ``serving`` for every caller (the command, benchmarks, tests),
``serve`` for the command, until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from tokens_server.app import create_app
from tokens_server.first_admin import admin_key_source
from tokens_server.http.access_log import LOGGER, RedactingAccessLogger
from tokens_server.settings import Settings, without_credentials

log = logging.getLogger(__name__)


async def serve(settings: Settings, started: float | None = None) -> None:
    """Serve until SIGINT or SIGTERM. ``started`` (monotonic) dates the "ready in" line."""
    started = time.monotonic() if started is None else started
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Installed before the database starts, so a signal during start-up still ends in cleanup.
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with serving(create_app(settings), settings.host, settings.port) as addresses:
        _announce(settings, addresses, time.monotonic() - started)
        await stop.wait()
        log.info("stopping")


@contextlib.asynccontextmanager
async def serving(
    app: web.Application, host: str, port: int, *, access_log: bool = True
) -> AsyncIterator[list[Any]]:
    """Serve ``app`` on ``host``:``port`` (0: any free one) for the block; yield the addresses
    it listens on. The access log, if kept, goes through the redacting access logger."""
    runner = web.AppRunner(
        app,
        access_log_class=RedactingAccessLogger,
        access_log=logging.getLogger(LOGGER) if access_log else None,
    )
    try:
        # Runs the cleanup contexts: the embedded database starts here.
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        yield runner.addresses
    finally:
        # Also after a failed setup: stops whatever cleanup contexts did start (the database).
        await runner.cleanup()


def _announce(settings: Settings, addresses: list[Any], seconds: float) -> None:
    """Tell the user where things are; the admin key itself is never printed."""
    lines = [f"tokens-server listening on {_url(address)}" for address in addresses]
    if settings.mongo_uri is None:
        lines.append(
            f"data: {settings.data_dir} (embedded database in {settings.files.database}, "
            f"its connection URI in {settings.files.database_uri})"
        )
    else:
        lines.append(
            f"data: MongoDB at {without_credentials(settings.mongo_uri)}, "
            f"database {settings.db_name!r}; keys in {settings.data_dir}"
        )
    lines.append(f"admin key: {admin_key_source(settings)}")
    lines.append(f"ready in {seconds:.2f} s")
    # stdout, flushed: the one place a user or a supervising script looks for the address.
    print("\n".join(lines), file=sys.stdout, flush=True)


def _url(address: Any) -> str:
    host, port = address[0], address[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
