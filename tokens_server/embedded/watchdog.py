"""The embedded database in the app's life: started before the port is served, restarted on its
port whenever it dies, stopped at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from ..state import EMBEDDED_DB, SETTINGS
from .process import EmbeddedDatabase, EmbeddedDatabaseError

log = logging.getLogger(__name__)

# How often the embedded database is checked; it restarts in about half a second.
WATCHDOG_INTERVAL = 0.25
# The longest wait between two failed restarts of the embedded database.
RESTART_BACKOFF_MAX = 2.0


async def embedded_database(app: web.Application) -> AsyncIterator[None]:
    """Start the embedded database when no MongoDB URI is configured; stop it at shutdown."""
    settings = app[SETTINGS]
    if settings.mongo_uri is not None:
        app[EMBEDDED_DB] = None
        yield
        return
    database = EmbeddedDatabase(settings.data_dir)
    await database.start()
    app[EMBEDDED_DB] = database
    watchdog = asyncio.create_task(_restart_when_dead(database))
    try:
        yield
    finally:
        watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watchdog
        await database.stop()


async def _restart_when_dead(database: EmbeddedDatabase) -> None:
    """Bring the embedded database back on its port whenever it is down, for as long as the
    server runs; requests answer 503 meanwhile.

    A failed restart (its port still held by another process, no process slot) is tried again,
    ever less often up to every ``RESTART_BACKOFF_MAX`` seconds, so it is back within seconds of
    whatever stood in its way going away.
    """
    failures = 0
    while True:
        await asyncio.sleep(_restart_delay(failures))
        if not database.is_down():
            continue
        if failures == 0:
            log.warning("the embedded database exited (code %s); restarting it", database.exited())
        try:
            await database.restart()
        except (EmbeddedDatabaseError, OSError) as error:
            # Also OSError (no free process slot, file descriptors): the watchdog must outlive
            # every failed attempt, or the database would stay down until the server restarts.
            failures += 1
            log.error(
                "the embedded database did not restart: %s; trying again in %.2f s",
                error,
                _restart_delay(failures),
            )
        else:
            failures = 0
            log.info("the embedded database is back on port %s", database.port)


def _restart_delay(failures: int) -> float:
    doubled: float = WATCHDOG_INTERVAL * 2.0 ** min(failures, 16)
    return min(doubled, RESTART_BACKOFF_MAX)
