"""The application factory. ``create_app`` does no I/O; resources open in cleanup contexts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from .embedded import EmbeddedDatabase, EmbeddedDatabaseError
from .key_check import open_keyring
from .overload import InFlight
from .problems import problem_middleware
from .repository import Repository, connect, database
from .repository.secret_keys import SecretKeyRecord
from .routes import add_routes
from .services.users import UserService
from .settings import MAX_BODY_BYTES, Settings
from .state import EMBEDDED_DB, IN_FLIGHT, KEYRING, REPOSITORY, SETTINGS, THROTTLED
from .throttled import ThrottledAddresses

log = logging.getLogger(__name__)

ADMIN_KEY_FILE = "admin.key"
# How often the embedded database is checked; it restarts in about half a second.
WATCHDOG_INTERVAL = 0.25
# The longest wait between two failed restarts of the embedded database.
RESTART_BACKOFF_MAX = 2.0


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[problem_middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    app[SETTINGS] = settings
    app[THROTTLED] = ThrottledAddresses()
    app[IN_FLIGHT] = InFlight(settings.max_in_flight)
    app.cleanup_ctx.append(embedded_database)
    app.cleanup_ctx.append(repository)
    add_routes(app)
    app.on_response_prepare.append(_security_headers)
    return app


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


async def repository(app: web.Application) -> AsyncIterator[None]:
    """Connect, check the secret keys, create indexes, migrate old data and make the first
    admin; close at shutdown. A key that does not fit the data raises SecretKeyError here,
    before the port is served."""
    settings = app[SETTINGS]
    embedded = app[EMBEDDED_DB]
    uri = settings.mongo_uri if embedded is None else embedded.uri
    assert uri is not None
    client = connect(uri, settings.db_timeout_ms)
    try:
        record = SecretKeyRecord(database(client, settings.db_name))
        keyring = await open_keyring(settings, record)
        window = timedelta(seconds=settings.auth_failure_window_s)
        list_timeout = timedelta(milliseconds=settings.list_timeout_ms)
        repo = Repository(
            client, settings.db_name, keyring, failure_window=window, list_timeout=list_timeout
        )
        await repo.prepare()
        key = await UserService(repo).bootstrap_admin(settings.admin_key)
        if key is not None and settings.admin_key is None:
            _write_admin_key(settings, key)
        app[KEYRING] = keyring
        app[REPOSITORY] = repo
        yield
    finally:
        await client.close()


def admin_key_path(settings: Settings) -> str:
    return str(settings.data_dir / ADMIN_KEY_FILE)


def _write_admin_key(settings: Settings, key: str) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = admin_key_path(settings)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    os.chmod(path, 0o600)
    log.info("created user 'admin'; its API key is in %s", path)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")
