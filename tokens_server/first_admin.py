"""The first admin: made once, on a database that never had an admin, with the configured key
or a new one written owner-only to the data directory. Later starts leave users alone, also
when ``admin`` was deleted, so a deleted admin does not come back on restart."""

from __future__ import annotations

import logging
import os

from tokens_server.domain.models import utcnow
from tokens_server.owner_only import FILE_MODE
from tokens_server.secrets.crypto import hash_api_key, new_api_key
from tokens_server.settings import Settings
from tokens_server.storage import Repository

log = logging.getLogger(__name__)

ADMIN_NAME = "admin"
# The actor of the first admin's "user.created" event: no user made it, and no user can be
# named this (names hold no parentheses), so the history cannot be read as blaming one.
FIRST_START = "(first start)"


async def make_first_admin(repo: Repository, settings: Settings) -> None:
    """Make ``admin`` if the database never had an admin; write its key unless configured."""
    if not await repo.bootstrap.first_start(utcnow()):
        return
    key = settings.admin_key or new_api_key()
    created = await repo.users.create_if_absent(
        ADMIN_NAME, [], True, hash_api_key(key), utcnow(), FIRST_START
    )
    # Recorded after the user exists: a crash in between leaves a user, which counts too.
    await repo.bootstrap.record(utcnow())
    if created and settings.admin_key is None:
        _write_admin_key(settings, key)


def admin_key_source(settings: Settings) -> str:
    """Where the first admin's key comes from, for the start-up banner; never the key."""
    if settings.admin_key is not None:
        return "TOKENS_ADMIN_KEY (used only if the database never had an admin)"
    return str(settings.files.admin_key)


def _write_admin_key(settings: Settings, key: str) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.files.admin_key
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    os.chmod(path, FILE_MODE)
    log.info("created user 'admin'; its API key is in %s", path)
