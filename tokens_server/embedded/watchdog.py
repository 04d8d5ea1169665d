"""The embedded database restarted on its port whenever it dies, for as long as the server runs
(``tokens_server.lifespan`` starts and stops it with the app)."""

from __future__ import annotations

import asyncio
import logging

from tokens_server.embedded.process import EmbeddedDatabase, EmbeddedDatabaseError

log = logging.getLogger(__name__)

# How often the embedded database is checked; it restarts in about half a second.
WATCHDOG_INTERVAL = 0.25
# The longest wait between two failed restarts of the embedded database.
RESTART_BACKOFF_MAX = 2.0


async def restart_when_dead(database: EmbeddedDatabase) -> None:
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
