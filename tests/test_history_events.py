"""Every change to a token writes one event in the change's own transaction: both or neither.

An event names who did what to which token, with each changed field's old and new value, and
never a GUID in any form but the prefix every caller who sees the token sees anyway.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from aiohttp.test_utils import TestClient
from pymongo.database import Database

from tests.support import ADMIN, UNDECLARED, AiohttpClient, problem
from tokens_server.app import create_app
from tokens_server.settings import Settings

Client = TestClient[Any, Any]
Db = Database[dict[str, Any]]
TOKENS = "/api/v1/tokens"
MakeToken = Callable[..., Awaitable[dict[str, Any]]]
MakeScope = Callable[..., Awaitable[str]]


def _events(raw_db: Db, kind: str = "") -> list[dict[str, Any]]:
    """The stored events, oldest first; only those whose action starts with ``kind``."""
    events = raw_db["events"].find({}).sort("_id", 1)
    return [e for e in events if e["action"].startswith(kind)]


async def test_each_change_of_a_token_writes_one_event_in_order(
    client: Client, raw_db: Db, make_scope: MakeScope
) -> None:
    await make_scope("ops")
    created = await client.post(TOKENS, json={"name": "Nightly", "scopes": ["ops"]}, headers=ADMIN)
    token = await created.json()
    url = f"{TOKENS}/{token['id']}"
    renamed = await client.patch(url, json={"name": "Nightly ETL"}, headers=ADMIN)
    assert renamed.status == 200
    regenerated = await (await client.post(f"{url}/regenerate", headers=ADMIN)).json()
    assert (await client.post(f"{url}/revoke", headers=ADMIN)).status == 200
    assert (await client.delete(url, headers=ADMIN)).status == 204

    events = _events(raw_db, "token.")
    assert [e["action"] for e in events] == [
        "token.created",
        "token.updated",
        "token.regenerated",
        "token.revoked",
        "token.deleted",
    ]
    # After the first admin's and the scope's events.
    assert [e["_id"] for e in events] == [3, 4, 5, 6, 7]
    assert {e["token_id"] for e in events} == {token["id"]}
    assert {e["actor"] for e in events} == {"admin"}
    assert [e["version"] for e in events] == [1, 2, 3, 4, 4]
    assert [e["token_name"] for e in events] == ["Nightly"] + ["Nightly ETL"] * 4
    assert all(e["scopes"] == ["ops"] for e in events)
    assert events[1]["changes"] == {"name": {"from": "Nightly", "to": "Nightly ETL"}}
    assert events[2]["changes"] == {
        "guid_prefix": {"from": token["guid_prefix"], "to": regenerated["guid_prefix"]}
    }
    assert set(events[3]["changes"]) == {"valid_to", "revoked_at", "revoked_by"}
    assert events[3]["changes"]["revoked_by"] == {"from": None, "to": "admin"}
    assert events[0]["changes"]["name"] == {"from": None, "to": "Nightly"}

    text = json.dumps(events, default=str).lower()
    for guid in (token["guid"], regenerated["guid"]):
        assert guid not in text and guid.replace("-", "") not in text
    assert "guid_enc" not in text and "guid_hash" not in text


async def test_a_refused_change_writes_no_event(
    client: Client, raw_db: Db, make_token: MakeToken, make_scope: MakeScope
) -> None:
    await make_scope("ops")
    token = await make_token(name="Kept", scopes=["ops"])
    url = f"{TOKENS}/{token['id']}"
    stale = {**ADMIN, "If-Match": '"7"'}
    await problem(await client.patch(url, json={"name": "X"}, headers=stale), 412)
    await problem(await client.delete(url, headers=stale), 412)
    same_guid = {"name": "Twin", "scopes": ["ops"], "guid": token["guid"]}
    await problem(await client.post(TOKENS, json=same_guid, headers=ADMIN), 409)
    assert (await client.post(f"{url}/revoke", headers=ADMIN)).status == 200
    await problem(await client.post(f"{url}/revoke", headers=ADMIN), 409)
    await problem(await client.post(f"{url}/regenerate", headers=ADMIN), 409)
    assert [e["action"] for e in _events(raw_db, "token.")] == ["token.created", "token.revoked"]


async def test_a_change_whose_event_cannot_be_written_is_not_made(
    client: Client, raw_db: Db, make_token: MakeToken, make_scope: MakeScope
) -> None:
    await make_scope("ops")
    token = await make_token(name="Before", scopes=["ops"])
    # Wind the event sequence back, so the next event's id is taken: its insert fails.
    raw_db["meta"].update_one({"_id": "event_sequence"}, {"$set": {"last": 0}})
    url = f"{TOKENS}/{token['id']}"
    response = await client.patch(url, json={"name": "After"}, headers=ADMIN)
    assert response.status >= 500
    stored = raw_db["tokens"].find_one({"name": "Before"})
    assert stored is not None and stored["version"] == 1
    new = await client.post(TOKENS, json={"name": "New", "scopes": ["ops"]}, headers=ADMIN)
    assert new.status >= 500
    assert raw_db["tokens"].count_documents({}) == 1
    assert len(_events(raw_db, "token.")) == 1
    # The two 500s are what a broken database earns; no other test may meet one.
    assert UNDECLARED == ["patch_token answered 500", "create_token answered 500"]
    UNDECLARED.clear()


async def test_concurrent_changes_get_one_event_each_with_increasing_ids(
    client: Client, raw_db: Db, make_token: MakeToken, make_scope: MakeScope
) -> None:
    await make_scope("ops")
    tokens = [await make_token(name=f"T{i}", scopes=["ops"]) for i in range(4)]

    async def rename(token: dict[str, Any], n: int) -> int:
        body = {"name": f"{token['name']}-{n}"}
        return (await client.patch(f"{TOKENS}/{token['id']}", json=body, headers=ADMIN)).status

    async def create(n: int) -> int:
        body = {"name": f"New {n}", "scopes": ["ops"], "guid": str(uuid.uuid4())}
        return (await client.post(TOKENS, json=body, headers=ADMIN)).status

    statuses = await asyncio.gather(
        *(rename(t, n) for t in tokens for n in range(5)), *(create(n) for n in range(10))
    )
    assert statuses.count(200) == 20 and statuses.count(201) == 10
    events = _events(raw_db)
    assert [e["_id"] for e in events] == list(range(1, 2 + 4 + 30 + 1))
    assert sum(e["action"] == "token.updated" for e in events) == 20
    assert sum(e["action"] == "token.created" for e in events) == 14
    for token in tokens:
        versions = [e["version"] for e in events if e.get("token_id") == token["id"]]
        assert versions == list(range(1, 7)), versions


async def test_users_and_scopes_write_their_events_never_a_key(
    client: Client, raw_db: Db, make_scope: MakeScope
) -> None:
    users = "/api/v1/users"
    await make_scope("ops")
    made = await client.post(users, json={"name": "dave", "scopes": ["ops"]}, headers=ADMIN)
    first_key = (await made.json())["api_key"]
    changed = await client.patch(f"{users}/dave", json={"scopes": [], "admin": True}, headers=ADMIN)
    assert changed.status == 200
    rotated = await (await client.post(f"{users}/dave/key", headers=ADMIN)).json()
    assert (await client.delete(f"{users}/dave", headers=ADMIN)).status == 204
    assert (await client.delete("/api/v1/scopes/ops", headers=ADMIN)).status == 204
    # Refused: the last admin demoting itself, a scope that does not exist.
    await problem(await client.patch(f"{users}/admin", json={"admin": False}, headers=ADMIN), 409)
    await problem(await client.delete("/api/v1/scopes/ops", headers=ADMIN), 404)

    events = _events(raw_db)
    assert [(e["action"], e.get("user"), e.get("scope"), e["actor"]) for e in events] == [
        ("user.created", "admin", None, "(first start)"),
        ("scope.created", None, "ops", "admin"),
        ("user.created", "dave", None, "admin"),
        ("user.updated", "dave", None, "admin"),
        ("user.key_rotated", "dave", None, "admin"),
        ("user.deleted", "dave", None, "admin"),
        ("scope.deleted", None, "ops", "admin"),
    ]
    assert events[2]["changes"] == {
        "name": {"from": None, "to": "dave"},
        "scopes": {"from": None, "to": ["ops"]},
        "admin": {"from": None, "to": False},
    }
    assert events[3]["changes"] == {
        "scopes": {"from": ["ops"], "to": []},
        "admin": {"from": False, "to": True},
    }
    assert events[4]["changes"] == {}
    stored = json.dumps(events, default=str)
    assert first_key not in stored and rotated["api_key"] not in stored
    assert "key_hash" not in stored


async def test_events_expire_after_the_retention_the_settings_give(
    aiohttp_client: AiohttpClient, settings: Settings, raw_db: Db
) -> None:
    def ttl() -> int:
        [index] = [i for i in raw_db["events"].list_indexes() if "expireAfterSeconds" in i]
        assert dict(index["key"]) == {"at": 1}
        return int(index["expireAfterSeconds"])

    first = await aiohttp_client(create_app(settings))
    assert ttl() == 400 * 86400
    await first.close()
    # A server started with another retention changes the index the first one made.
    await aiohttp_client(create_app(replace(settings, event_retention_days=30)))
    assert ttl() == 30 * 86400
