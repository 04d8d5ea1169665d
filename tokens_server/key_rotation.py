"""``tokens-server rotate-secret-key``: reseal every stored GUID under a new secret key.

With key files (the default), the new key is made in ``secret.key.new`` first and replaces
``secret.key`` only once no GUID is sealed by the old one. With ``TOKENS_SECRET_KEY``, the
operator gives the new key there and the old one as ``TOKENS_PREVIOUS_SECRET_KEY``, on every
instance, before running this. Either way both keys read while it runs, each GUID is resealed
on its own, and an interrupted run is resumed by running it again.
"""

from __future__ import annotations

from tokens_server.embedded import EmbeddedDatabase
from tokens_server.key_check import open_keyring
from tokens_server.secrets.keyring import (
    SecretKeyError,
    create_key_file,
    load_keyring,
    promote_next_key_file,
)
from tokens_server.settings import Settings
from tokens_server.storage import Repository, connect, database
from tokens_server.storage.secret_keys import SecretKeyRecord


async def rotate_secret_key(settings: Settings, limit: int | None = None) -> list[str]:
    """Rotate (at most ``limit`` GUIDs this run); answer what was done, for the operator."""
    if settings.mongo_uri is not None:
        return await _rotate(settings, settings.mongo_uri, limit)
    embedded = EmbeddedDatabase(settings.data_dir)
    await embedded.start()
    try:
        return await _rotate(settings, embedded.uri, limit)
    finally:
        await embedded.stop()


async def _rotate(settings: Settings, uri: str, limit: int | None) -> list[str]:
    with_files = settings.secret_key is None
    if with_files:
        if load_keyring(settings) is None:
            raise SecretKeyError(
                f"no secret key to rotate: {settings.files.secret_key} "
                "does not exist and TOKENS_SECRET_KEY is not set"
            )
        create_key_file(settings.files.next_secret_key)  # kept if an earlier run made it
    client = connect(uri, settings.db_timeout_ms, bound_operations=False)
    try:
        record = SecretKeyRecord(database(client, settings.db_name))
        keyring = await open_keyring(settings, record)
        repo = Repository(client, settings.db_name, keyring)
        await repo.prepare()  # plaintext GUIDs of old versions are sealed first, then resealed
        outcome = await repo.token_upkeep.reseal(limit)
        current = keyring.current.id
        done = [f"resealed {outcome.resealed} GUIDs under key {current}"]
        if outcome.duplicates:
            raise SecretKeyError(
                f"tokens {', '.join(outcome.duplicates)} hold a GUID that another token holds "
                f"too; delete one of each pair and run this again"
            )
        if outcome.remaining:
            return [
                *done,
                f"{outcome.remaining} GUIDs remain sealed by another key: "
                f"run this again to reseal them",
            ]
        await record.keep_only(current)
    finally:
        await client.close()
    # Only now: while a GUID was sealed by the old key, the old key file had to stay.
    if with_files:
        promote_next_key_file(settings.files)
        return [
            *done,
            f"every GUID is sealed by key {current}, now in "
            f"{settings.files.secret_key}; the previous key is deleted",
        ]
    return [
        *done,
        f"every GUID is sealed by key {current}: TOKENS_PREVIOUS_SECRET_KEY "
        f"can now be removed from every instance",
    ]
