"""What the app opens at start and closes at stop, as cleanup contexts (``create_app`` appends
them in order): the embedded database, the writer of noted uses and the live feed. The
repository's own context, with its start-up checks, is ``startup.repository``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from aiohttp import web

from tokens_server.embedded import EmbeddedDatabase, restart_when_dead
from tokens_server.http.state import EMBEDDED_DB, FEED, REPOSITORY, SETTINGS
from tokens_server.live.feed import EventFeed
from tokens_server.live.last_use_writer import write, write_every
from tokens_server.storage.last_use import FLUSH_S


async def embedded_database(app: web.Application) -> AsyncIterator[None]:
    """Start the embedded database when no MongoDB URI is configured, watched and restarted
    whenever it dies; stop it at shutdown."""
    settings = app[SETTINGS]
    if settings.mongo_uri is not None:
        app[EMBEDDED_DB] = None
        yield
        return
    database = EmbeddedDatabase(settings.data_dir)
    await database.start()
    app[EMBEDDED_DB] = database
    try:
        async with _running(restart_when_dead(database)):
            yield
    finally:
        await database.stop()


async def last_use_writer(app: web.Application) -> AsyncIterator[None]:
    """Write noted uses and usage counts every few seconds, and once more at shutdown, so that
    a stopped server loses none."""
    repo = app[REPOSITORY]
    last_use, usage = repo.tokens.last_use, repo.usage_counts
    async with _running(write_every(last_use, usage, FLUSH_S)):
        yield
    await write(last_use, usage)


async def event_feed(app: web.Application) -> AsyncIterator[None]:
    """The app's feed, made once the repository is open. Streams end when shutdown begins, as
    the server waits for open requests to finish before it closes."""
    settings = app[SETTINGS]
    feed = EventFeed(app[REPOSITORY], settings.max_subscribers, settings.max_streams_per_user)
    app[FEED] = feed
    feed.start()

    async def end_streams(_: web.Application) -> None:
        await feed.close()

    app.on_shutdown.append(end_streams)
    yield
    await feed.close()


@contextlib.asynccontextmanager
async def _running(work: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """``work`` as a task for the life of the block, cancelled and awaited at its end."""
    task = asyncio.create_task(work)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
