"""Connecting at start: the MongoDB client, the secret-key check, indexes and migrations, the
first admin; the client closes at shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from tokens_server.first_admin import make_first_admin
from tokens_server.http.state import EMBEDDED_DB, KEYRING, REPOSITORY, SETTINGS
from tokens_server.key_check import open_keyring
from tokens_server.storage import Repository, connect, database
from tokens_server.storage.memory import Memory
from tokens_server.storage.secret_keys import SecretKeyRecord
from tokens_server.storage.topology import require_replica_set


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
        await require_replica_set(client)
        record = SecretKeyRecord(database(client, settings.db_name))
        keyring = await open_keyring(settings, record)
        window = timedelta(seconds=settings.auth_failure_window_s)
        list_timeout = timedelta(milliseconds=settings.list_timeout_ms)
        repo = Repository(
            client,
            settings.db_name,
            keyring,
            failure_window=window,
            list_timeout=list_timeout,
            event_retention=timedelta(days=settings.event_retention_days),
            memory=Memory(settings.memory_tokens, settings.memory_users),
            list_memory_tokens=settings.list_memory_tokens,
            usage_retention=timedelta(days=settings.usage_retention_days),
        )
        await repo.prepare()
        await make_first_admin(repo, settings)
        app[KEYRING] = keyring
        app[REPOSITORY] = repo
        yield
    finally:
        await client.close()
