"""Keys given as variables, as several instances on one MongoDB use them: the start-up check,
legacy data, and a rotation while instances serve with the new key and the previous one."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.database import Database

from tests.support import ADMIN, AiohttpClient
from tokens_server.app import create_app
from tokens_server.key_rotation import rotate_secret_key
from tokens_server.secrets.keyring import SecretKeyError, key_from_text
from tokens_server.settings import Settings

Client = TestClient[Any, Any]
RawDb = Database[dict[str, Any]]
OLD = "old-secret-key-0123456789abcdef"
NEW = "new-secret-key-0123456789abcdef"


async def _create(client: Client, guid: str | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"name": "T", "scopes": ["ops"]}
    if guid is not None:
        body["guid"] = guid
    response = await client.post("/api/v1/tokens", json=body, headers=ADMIN)
    return response.status, await response.json()


async def _reads_all(client: Client, guids: list[str]) -> None:
    for guid in guids:
        answer = await client.post("/api/v1/tokens/verify", json={"guid": guid}, headers=ADMIN)
        verified = await answer.json()
        assert verified["status"] == "active", guid
        got = await client.get(f"/api/v1/tokens/{verified['token']['id']}", headers=ADMIN)
        assert (await got.json())["guid"] == guid
        listed = await client.get(f"/api/v1/tokens?guid={guid}", headers=ADMIN)
        assert [t["guid"] for t in (await listed.json())["items"]] == [guid]


async def _start_fails(settings: Settings) -> str:
    """Start the app as the server does; answer the SecretKeyError that stops it."""
    runner = web.AppRunner(create_app(settings))
    try:
        with pytest.raises(SecretKeyError) as raised:
            await runner.setup()
    finally:
        await runner.cleanup()
    return str(raised.value)


def _key_id(text: str) -> str:
    return key_from_text(text, "test").id


async def test_rotation_while_instances_serve_with_both_keys(
    aiohttp_client: AiohttpClient, settings: Settings, raw_db: RawDb
) -> None:
    old_settings = replace(settings, secret_key=OLD)
    both = replace(settings, secret_key=NEW, previous_secret_key=OLD)
    old_instance = await aiohttp_client(create_app(old_settings))
    await old_instance.post("/api/v1/scopes", json={"name": "ops"}, headers=ADMIN)
    guids = [(await _create(old_instance))[1]["guid"] for _ in range(4)]

    # A rolling restart: one instance has the new key (and the old one), one the old key only.
    new_instance = await aiohttp_client(create_app(both))
    assert raw_db["meta"].find_one({"_id": "secret_keys"})["sealed_by"] == [
        _key_id(OLD), _key_id(NEW)
    ]  # fmt: skip
    await _reads_all(new_instance, guids)
    status, made = await _create(new_instance)
    assert status == 201 and raw_db["tokens"].count_documents({"guid_key": _key_id(NEW)}) == 1
    guids.append(made["guid"])
    # One GUID, one token, whichever key each instance seals under.
    assert (await _create(new_instance, guids[0]))[0] == 409
    assert (await _create(old_instance, made["guid"]))[0] == 409
    chosen = str(uuid.uuid4())
    assert (await _create(old_instance, chosen))[0] == 201
    assert (await _create(new_instance, chosen))[0] == 409
    guids.append(chosen)

    # Every instance now has the new key; the rotation is interrupted after two GUIDs.
    await old_instance.close()
    partly = await rotate_secret_key(both, limit=2)
    assert partly[0] == f"resealed 2 GUIDs under key {_key_id(NEW)}"
    assert raw_db["tokens"].count_documents({"guid_key": {"$ne": _key_id(NEW)}}) == 3
    await _reads_all(new_instance, guids)

    finished = await rotate_secret_key(both)
    assert "TOKENS_PREVIOUS_SECRET_KEY can now be removed" in finished[-1]
    docs = list(raw_db["tokens"].find({}))
    assert {d["guid_key"] for d in docs} == {_key_id(NEW)}
    assert all(isinstance(d["guid_hash"], str) for d in docs)  # the old key's hashes are gone
    assert raw_db["meta"].find_one({"_id": "secret_keys"})["sealed_by"] == [_key_id(NEW)]
    await _reads_all(new_instance, guids)

    await _reads_all(await aiohttp_client(create_app(replace(settings, secret_key=NEW))), guids)
    assert "the stored GUIDs are sealed by key" in await _start_fails(old_settings)


async def test_a_key_that_does_not_fit_fails_at_start(
    aiohttp_client: AiohttpClient, settings: Settings, client: Client, make_scope: Any,
    make_token: Any,
) -> None:  # fmt: skip
    await make_scope("ops")
    guid = (await make_token(name="T", scopes=["ops"]))["guid"]
    problem = await _start_fails(replace(settings, secret_key=NEW))
    assert problem.startswith("the stored GUIDs are sealed by key")
    assert settings.secret_key is not None
    assert NEW not in problem and settings.secret_key not in problem
    # Naming the old key as the previous one is how a rotation starts: that one does start.
    rotating_settings = replace(settings, secret_key=NEW, previous_secret_key=settings.secret_key)
    rotating = await aiohttp_client(create_app(rotating_settings))
    await _reads_all(rotating, [guid])


async def test_legacy_data_is_checked_against_the_key_then_recorded(
    aiohttp_client: AiohttpClient, settings: Settings, client: Client, make_scope: Any,
    make_token: Any, raw_db: RawDb,
) -> None:  # fmt: skip
    await make_scope("ops")
    guid = (await make_token(name="T", scopes=["ops"]))["guid"]
    # As versions before key ids left it: no record, no tag.
    raw_db["meta"].delete_one({"_id": "secret_keys"})
    raw_db["tokens"].update_many({}, {"$unset": {"guid_key": ""}})
    assert "cannot open the stored GUIDs" in await _start_fails(replace(settings, secret_key=NEW))
    assert raw_db["meta"].find_one({"_id": "secret_keys"}) is None
    assert settings.secret_key is not None
    await _reads_all(await aiohttp_client(create_app(settings)), [guid])
    record = raw_db["meta"].find_one({"_id": "secret_keys"})
    assert record is not None and record["sealed_by"] == [_key_id(settings.secret_key)]
