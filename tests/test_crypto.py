"""GUIDs at rest: sealed, found by keyed hash, never stored whole; plaintext from older versions is
migrated at start; the master secret is made once and kept private.
"""

from __future__ import annotations

import os
import stat
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from cryptography.exceptions import InvalidTag
from pymongo.database import Database

from tests.support import ADMIN, now
from tokens_server.secrets.crypto import GuidCipher, hash_api_key
from tokens_server.secrets.keyring import Keyring, create_key_file, key_from_text, load_keyring
from tokens_server.settings import Settings
from tokens_server.storage import Repository, connect

Client = TestClient[Any, Any]
RawDb = Database[dict[str, Any]]


def _forms(guid: str) -> list[str]:
    """The ways a GUID could sit in a stored document."""
    return [guid, guid.upper(), guid.replace("-", ""), guid[9:], guid[:8] + guid[9:13]]


async def test_stored_tokens_hold_no_plaintext_guid(
    client: Client, make_scope: Any, make_token: Any, raw_db: RawDb
) -> None:
    await make_scope("ops")
    made = [await make_token(name=f"Secret {i}", scopes=["ops"]) for i in range(3)]
    chosen = await make_token(name="Chosen", scopes=["ops"], guid=str(uuid.uuid4()))
    rotated = await client.post(f"/api/v1/tokens/{made[0]['id']}/regenerate", headers=ADMIN)
    patched = await client.patch(
        f"/api/v1/tokens/{made[1]['id']}", json={"guid": str(uuid.uuid4())}, headers=ADMIN
    )
    guids = [t["guid"] for t in made] + [chosen["guid"]]
    guids += [(await rotated.json())["guid"], (await patched.json())["guid"]]
    stored = repr(list(raw_db["tokens"].find({}))) + repr(list(raw_db["tokens"].find({}))).lower()
    for guid in guids:
        for form in _forms(guid):
            assert form not in stored, form
    for doc in raw_db["tokens"].find({}):
        assert "guid" not in doc
        assert len(doc["guid_prefix"]) == 8


async def test_legacy_plaintext_guid_is_encrypted_and_still_verifies(
    client: Client, make_scope: Any, make_token: Any, raw_db: RawDb, settings: Settings
) -> None:
    await make_scope("ops")
    template = await make_token(name="Template", scopes=["ops"])
    legacy_guid = str(uuid.uuid4())
    moment = now() - timedelta(days=1)
    raw_db["tokens"].insert_one(
        {
            "name": "Legacy",
            "name_key": "legacy",
            "guid": legacy_guid.upper(),
            "description": "",
            "scopes": ["ops"],
            "valid_from": moment,
            "valid_to": None,
            "created_at": moment,
            "created_by": "admin",
            "updated_at": moment,
            "updated_by": "admin",
            "revoked_at": None,
            "revoked_by": None,
            "last_used_at": None,
            "version": 1,
        }
    )
    mongo = connect(settings.mongo_uri or "", 5000)
    try:
        assert settings.secret_key is not None
        keyring = Keyring(key_from_text(settings.secret_key, "TOKENS_SECRET_KEY"))
        repo = Repository(mongo, settings.db_name, keyring)
        await repo.prepare()
        assert await repo.token_upkeep.encrypt_plaintext_guids() == 0  # nothing left to migrate
        await repo.prepare()  # and preparing again is harmless
    finally:
        await mongo.close()
    doc = raw_db["tokens"].find_one({"name": "Legacy"})
    assert doc is not None and "guid" not in doc
    assert legacy_guid not in repr(doc).lower()
    verified = await client.post("/api/v1/tokens/verify", json={"guid": legacy_guid}, headers=ADMIN)
    answer = await verified.json()
    assert answer["status"] == "active" and answer["token"]["name"] == "Legacy"
    listed = await client.get(f"/api/v1/tokens?guid={legacy_guid[:6]}", headers=ADMIN)
    assert [t["guid"] for t in (await listed.json())["items"]] == [legacy_guid]
    untouched = await client.get(f"/api/v1/tokens/{template['id']}", headers=ADMIN)
    assert (await untouched.json())["guid"] == template["guid"]


def test_cipher_round_trip_with_fresh_nonces() -> None:
    cipher = GuidCipher(b"m" * 32)
    guid = str(uuid.uuid4())
    sealed = {cipher.encrypt(guid) for _ in range(5)}
    assert len(sealed) == 5
    assert all(cipher.decrypt(s) == guid for s in sealed)
    assert all(guid.encode() not in s for s in sealed)


def test_tampered_or_foreign_ciphertext_is_refused() -> None:
    cipher = GuidCipher(b"m" * 32)
    sealed = bytearray(cipher.encrypt(str(uuid.uuid4())))
    sealed[-1] ^= 1
    with pytest.raises(InvalidTag):
        cipher.decrypt(bytes(sealed))
    with pytest.raises(InvalidTag):
        GuidCipher(b"o" * 32).decrypt(cipher.encrypt(str(uuid.uuid4())))


def test_lookup_hash_is_keyed_and_ignores_case() -> None:
    guid = str(uuid.uuid4())
    cipher = GuidCipher(b"m" * 32)
    assert cipher.lookup_hash(guid) == cipher.lookup_hash(guid.upper())
    assert cipher.lookup_hash(guid) != GuidCipher(b"o" * 32).lookup_hash(guid)
    assert cipher.lookup_hash(guid) != cipher.lookup_hash(str(uuid.uuid4()))
    assert guid not in cipher.lookup_hash(guid)
    assert cipher.prefix(guid.upper()) == guid[:8]


def test_api_key_hash_is_not_the_key() -> None:
    assert hash_api_key("tk_abc") != "tk_abc"
    assert hash_api_key("tk_abc") == hash_api_key("tk_abc")
    assert hash_api_key("tk_abc") != hash_api_key("tk_abd")


def test_master_secret_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    files = Settings(data_dir=data_dir)
    assert load_keyring(files) is None
    path = data_dir / "secret.key"
    create_key_file(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    first = load_keyring(files)
    assert first is not None
    create_key_file(path)  # an existing key is never replaced
    again = load_keyring(files)
    assert again is not None and again.ids == first.ids
    configured = load_keyring(
        Settings(data_dir=tmp_path / "elsewhere", secret_key="configured secret")
    )
    assert configured is not None and configured.ids != first.ids
    assert not (tmp_path / "elsewhere").exists()
