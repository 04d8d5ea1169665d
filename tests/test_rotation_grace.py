"""Rotation with overlap: a GUID replaced with a grace keeps verifying, marked superseded, until
the grace ends; one previous GUID at most; revoking ends both; a key rotation reseals it too."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pymongo.database import Database

from tests.support import ADMIN, AiohttpClient, now, parse, problem, set_raw
from tokens_server.app import create_app
from tokens_server.domain.limits import GRACE_MAX_S
from tokens_server.key_rotation import rotate_secret_key
from tokens_server.settings import Settings

Client = TestClient[Any, Any]
MakeToken = Callable[..., Awaitable[dict[str, Any]]]
RawDb = Database[dict[str, Any]]
TOKENS = "/api/v1/tokens"
HOUR = 3600


@pytest.fixture
async def token(make_scope: Callable[..., Awaitable[str]], make_token: MakeToken) -> dict[str, Any]:
    await make_scope("ops")
    return await make_token(name="Nightly", scopes=["ops"])


async def _verify(client: Client, guid: str) -> dict[str, Any]:
    response = await client.post(f"{TOKENS}/verify", json={"guid": guid}, headers=ADMIN)
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


async def _regenerate(client: Client, token_id: str, **body: Any) -> dict[str, Any]:
    response = await client.post(f"{TOKENS}/{token_id}/regenerate", json=body, headers=ADMIN)
    assert response.status == 200, await response.text()
    regenerated: dict[str, Any] = await response.json()
    return regenerated


async def test_the_previous_guid_verifies_superseded_until_its_grace_ends(
    client: Client, token: dict[str, Any], raw_db: RawDb
) -> None:
    before = now()
    rotated = await _regenerate(client, token["id"], grace=HOUR)
    until = parse(rotated["previous_guid_until"])
    # Served to the millisecond, cut rather than rounded.
    assert before + timedelta(hours=1, milliseconds=-1) <= until <= now() + timedelta(hours=1)

    old = await _verify(client, token["guid"])
    assert old["valid"] is True and old["status"] == "active"
    assert old["superseded"] is True and parse(old["superseded_until"]) == until
    assert old["token"]["id"] == token["id"]
    new = await _verify(client, rotated["guid"])
    assert new["valid"] is True and new["superseded"] is False and new["superseded_until"] is None

    # The grace ends: the old GUID is refused as if it had been replaced without one.
    await set_raw(client, raw_db, token["id"], previous_guid_until=now() - timedelta(seconds=1))
    assert await _verify(client, token["guid"]) == {
        "valid": False,
        "status": "not_found",
        "superseded": False,
        "superseded_until": None,
        "token": None,
    }
    assert (await _verify(client, rotated["guid"]))["valid"] is True
    got = await client.get(f"{TOKENS}/{token['id']}", headers=ADMIN)
    assert (await got.json())["previous_guid_until"] is None


async def test_regenerating_again_ends_the_older_guid_at_once(
    client: Client, token: dict[str, Any]
) -> None:
    first = await _regenerate(client, token["id"], grace=HOUR)
    second = await _regenerate(client, token["id"], grace=HOUR)
    assert (await _verify(client, token["guid"]))["status"] == "not_found"
    assert (await _verify(client, first["guid"]))["superseded"] is True
    assert (await _verify(client, second["guid"]))["superseded"] is False

    # Without a grace (no body at all, as before graces existed) both earlier GUIDs stop.
    third = await client.post(f"{TOKENS}/{token['id']}/regenerate", headers=ADMIN)
    assert third.status == 200
    assert (await third.json())["previous_guid_until"] is None
    for guid in (first["guid"], second["guid"]):
        assert (await _verify(client, guid))["status"] == "not_found"


async def test_revoking_ends_both_guids(client: Client, token: dict[str, Any]) -> None:
    rotated = await _regenerate(client, token["id"], grace=HOUR)
    revoked = await client.post(f"{TOKENS}/{token['id']}/revoke", headers=ADMIN)
    assert (await revoked.json())["previous_guid_until"] is None
    for guid in (token["guid"], rotated["guid"]):
        answer = await _verify(client, guid)
        assert answer["valid"] is False and answer["status"] == "revoked"
        assert answer["superseded"] is False


async def test_the_grace_ends_with_the_token(
    client: Client, make_scope: Callable[..., Awaitable[str]], make_token: MakeToken
) -> None:
    await make_scope("ops")
    ends = now() + timedelta(minutes=30)
    token = await make_token(name="Short", scopes=["ops"], valid_to=ends.isoformat())
    rotated = await _regenerate(client, token["id"], grace=HOUR)
    assert parse(rotated["previous_guid_until"]) == parse(token["valid_to"])


async def test_an_edit_that_replaces_the_guid_may_keep_the_old_one_working(
    client: Client, token: dict[str, Any]
) -> None:
    url = f"{TOKENS}/{token['id']}"
    guid = str(uuid.uuid4())
    edited = await client.patch(url, json={"guid": guid, "grace": HOUR}, headers=ADMIN)
    assert edited.status == 200, await edited.text()
    assert (await edited.json())["previous_guid_until"] is not None
    assert (await _verify(client, token["guid"]))["superseded"] is True
    assert (await _verify(client, guid))["superseded"] is False
    # The same edit again changes nothing: the GUID is the token's own, so its grace has
    # nothing to apply to, and the old GUID keeps the grace it was given.
    again = await client.patch(url, json={"guid": guid, "grace": 2 * HOUR}, headers=ADMIN)
    assert again.status == 200, await again.text()
    unchanged = ("version", "guid", "previous_guid_until", "updated_at")
    assert {k: (await again.json())[k] for k in unchanged} == {
        k: (await edited.json())[k] for k in unchanged
    }

    # A grace without a new GUID has nothing to apply to.
    alone = await client.patch(url, json={"name": "Renamed", "grace": HOUR}, headers=ADMIN)
    await problem(alone, 422, field="grace")
    assert (await (await client.get(url, headers=ADMIN)).json())["name"] == "Nightly"


async def test_a_guid_still_in_its_grace_cannot_be_given_to_another_token(
    client: Client, token: dict[str, Any]
) -> None:
    await _regenerate(client, token["id"], grace=HOUR)
    taken = await client.post(
        TOKENS, json={"name": "Thief", "scopes": ["ops"], "guid": token["guid"]}, headers=ADMIN
    )
    await problem(taken, 409)
    other = await client.post(TOKENS, json={"name": "Other", "scopes": ["ops"]}, headers=ADMIN)
    edit = await client.patch(
        f"{TOKENS}/{(await other.json())['id']}", json={"guid": token["guid"]}, headers=ADMIN
    )
    await problem(edit, 409)
    assert (await _verify(client, token["guid"]))["token"]["id"] == token["id"]


@pytest.mark.parametrize(
    "body",
    [{"grace": -1}, {"grace": GRACE_MAX_S + 1}, {"grace": "3600"}, {"grace": 1.5}, {"grace": None}],
)
async def test_a_grace_out_of_bounds_is_refused(
    client: Client, token: dict[str, Any], body: dict[str, Any]
) -> None:
    url = f"{TOKENS}/{token['id']}/regenerate"
    await problem(await client.post(url, json=body, headers=ADMIN), 422, field="grace")
    await problem(await client.post(url, json={"graze": 60}, headers=ADMIN), 422, field="graze")
    assert (await _verify(client, token["guid"]))["superseded"] is False


async def test_the_longest_grace_is_taken(client: Client, token: dict[str, Any]) -> None:
    rotated = await _regenerate(client, token["id"], grace=GRACE_MAX_S)
    assert parse(rotated["previous_guid_until"]) > now() + timedelta(days=29)


async def test_the_history_says_until_when_the_old_guid_works(
    client: Client, token: dict[str, Any]
) -> None:
    rotated = await _regenerate(client, token["id"], grace=HOUR)
    history = await client.get(f"{TOKENS}/{token['id']}/history", headers=ADMIN)
    latest = (await history.json())["items"][0]
    assert latest["action"] == "token.regenerated"
    changed = latest["changes"]["previous_guid_until"]
    assert changed["from"] is None and parse(changed["to"]) == parse(rotated["previous_guid_until"])
    assert "guid" not in latest["changes"] and "previous_guid" not in latest["changes"]


async def test_a_key_rotation_reseals_the_previous_guid(
    aiohttp_client: AiohttpClient, settings: Settings, token: dict[str, Any], raw_db: RawDb
) -> None:
    assert settings.secret_key is not None
    old_instance = await aiohttp_client(create_app(settings))
    rotated = await _regenerate(old_instance, token["id"], grace=HOUR)
    await old_instance.close()

    both = replace(settings, secret_key="new-secret-key-0123456789abcdef")
    both = replace(both, previous_secret_key=settings.secret_key)
    finished = await rotate_secret_key(both)
    assert "TOKENS_PREVIOUS_SECRET_KEY can now be removed" in finished[-1]
    stored = raw_db["tokens"].find_one({})
    assert stored is not None
    assert stored["previous_guid"]["key"] == stored["guid_key"]
    assert isinstance(stored["previous_guid"]["hash"], str)

    # With the old key gone, both GUIDs still verify, each as what it is.
    new_only = await aiohttp_client(create_app(replace(both, previous_secret_key=None)))
    assert (await _verify(new_only, token["guid"]))["superseded"] is True
    assert (await _verify(new_only, rotated["guid"]))["superseded"] is False


async def test_a_grace_written_as_a_whole_float_is_that_many_seconds(
    client: Client, token: dict[str, Any]
) -> None:
    # JSON Schema's integer: 3600.0 is 3600 to any JSON reader.
    rotated = await _regenerate(client, token["id"], grace=3600.0)
    assert parse(rotated["previous_guid_until"]) > now() + timedelta(minutes=59)
