"""The start-up check: serve only with the keys that sealed the stored GUIDs.

A server with a wrong, malformed or lost key would start and then answer 500 on every read, and
a lost key file replaced by a new one would leave every stored GUID unreadable. So the database
records the id of every key that may have sealed a stored GUID, and a start whose keys do not
cover them fails before the port is served, with one line naming the problem.
"""

from __future__ import annotations

from tokens_server.secrets.keyring import Keyring, SecretKeyError, create_key_file, load_keyring
from tokens_server.settings import Settings
from tokens_server.storage.secret_keys import SecretKeyRecord


async def open_keyring(settings: Settings, record: SecretKeyRecord) -> Keyring:
    """The configured keys, checked against the database; raises SecretKeyError."""
    keyring = load_keyring(settings)
    recorded = await record.sealed_by()
    if keyring is None:
        # A new key is made only for a database that holds no sealed GUID: over existing data
        # it would seal new tokens under a key that cannot open the old ones.
        if recorded is not None or await record.sample() is not None:
            sealed_by = ", ".join(recorded or ["an unrecorded key"])
            raise SecretKeyError(
                f"no secret key: {settings.files.secret_key} does not exist and "
                f"TOKENS_SECRET_KEY is not set, but the stored GUIDs are sealed by key "
                f"{sealed_by}; restore the key file or set TOKENS_SECRET_KEY"
            )
        create_key_file(settings.files.secret_key)
        keyring = load_keyring(settings)
        assert keyring is not None
    if recorded is None:
        # Data from before keys were recorded: the configured key must open it.
        sample = await record.sample()
        if sample is not None and not keyring.opens(sample.sealed, sample.key_id):
            raise SecretKeyError(
                f"{_described(keyring)} cannot open the stored GUIDs: start with the key "
                f"that sealed them"
            )
        recorded = await record.record_first(keyring.ids)
    unknown = [key_id for key_id in recorded if key_id not in keyring.ids]
    if unknown:
        raise SecretKeyError(
            f"the stored GUIDs are sealed by key {', '.join(unknown)}, but the configured "
            f"{'key is' if keyring.previous is None else 'keys are'} {_described(keyring)}: "
            f"start with the key that sealed them (during a rotation, as "
            f"TOKENS_PREVIOUS_SECRET_KEY)"
        )
    if keyring.current.id not in recorded:
        # A rotation starts: record the new key before anything is sealed under it.
        await record.add(keyring.current.id)
    return keyring


def _described(keyring: Keyring) -> str:
    return " and ".join(key.describe() for key in keyring.keys)
