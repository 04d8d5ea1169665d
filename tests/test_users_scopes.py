"""Scopes and users: creation, the once-shown API keys stored only as hashes, rotation, the
admin's guards against locking itself out, and the first admin made at start.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

import pytest
from aiohttp.test_utils import TestClient
from pymongo.database import Database

from tests.support import ADMIN, ADMIN_KEY, AiohttpClient, parse, problem
from tokens_server.app import create_app
from tokens_server.settings import Settings

Client = TestClient[Any, Any]
RawDb = Database[dict[str, Any]]
MakeScope = Callable[..., Awaitable[str]]
SCOPES = "/api/v1/scopes"
USERS = "/api/v1/users"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# ---- scopes ----------------------------------------------------------------------------------


async def test_scopes_create_list_and_delete(client: Client) -> None:
    assert await (await client.get(SCOPES, headers=ADMIN)).json() == {"items": []}
    for name in ("ops", "analytics", "a", "0.x:y-z_", "a" * 64):
        response = await client.post(SCOPES, json={"name": name}, headers=ADMIN)
        assert response.status == 201, await response.text()
        body = await response.json()
        assert body["name"] == name and body["description"] == ""
        # The router quotes the name as a path segment (":" as %3A); it reads it back the same.
        assert unquote(response.headers["Location"]) == f"{SCOPES}/{name}"
        parse(body["created_at"])
    described = await client.post(
        SCOPES, json={"name": "billing", "description": "Invoices\nand more"}, headers=ADMIN
    )
    assert (await described.json())["description"] == "Invoices\nand more"
    listed = [s["name"] for s in (await (await client.get(SCOPES, headers=ADMIN)).json())["items"]]
    assert listed == sorted(["ops", "analytics", "a", "0.x:y-z_", "a" * 64, "billing"])
    await problem(await client.post(SCOPES, json={"name": "ops"}, headers=ADMIN), 409)
    colon = (await client.post(SCOPES, json={"name": "c:d"}, headers=ADMIN)).headers["Location"]
    assert (await client.delete(colon, headers=ADMIN)).status == 204
    assert (await client.delete(f"{SCOPES}/ops", headers=ADMIN)).status == 204
    await problem(await client.delete(f"{SCOPES}/ops", headers=ADMIN), 404)
    await problem(await client.delete(f"{SCOPES}/nosuch", headers=ADMIN), 404)
    assert (await client.post(SCOPES, json={"name": "ops"}, headers=ADMIN)).status == 201


async def test_scope_in_use_cannot_be_deleted(
    client: Client, make_scope: MakeScope, make_user: Any, make_token: Any
) -> None:
    await make_scope("analytics")
    await make_scope("ops")
    token = await make_token(name="Uses ops", scopes=["analytics", "ops"])
    await make_user("olga", ["ops"])
    await problem(await client.delete(f"{SCOPES}/ops", headers=ADMIN), 409)
    await problem(await client.delete(f"{SCOPES}/analytics", headers=ADMIN), 409)
    patched = await client.patch(
        f"/api/v1/tokens/{token['id']}", json={"scopes": ["analytics"]}, headers=ADMIN
    )
    assert patched.status == 200
    await problem(await client.delete(f"{SCOPES}/ops", headers=ADMIN), 409)  # olga still has it
    assert (await client.patch(f"{USERS}/olga", json={"scopes": []}, headers=ADMIN)).status == 200
    colon = (await client.post(SCOPES, json={"name": "c:d"}, headers=ADMIN)).headers["Location"]
    assert (await client.delete(colon, headers=ADMIN)).status == 204
    assert (await client.delete(f"{SCOPES}/ops", headers=ADMIN)).status == 204
    revoked = await client.post(f"/api/v1/tokens/{token['id']}/revoke", headers=ADMIN)
    assert revoked.status == 200
    # A revoked token still holds its scope.
    await problem(await client.delete(f"{SCOPES}/analytics", headers=ADMIN), 409)


# ---- users -----------------------------------------------------------------------------------


async def test_create_user_shows_the_key_once_and_stores_only_a_hash(
    client: Client, make_scope: MakeScope, raw_db: RawDb
) -> None:
    await make_scope("analytics")
    response = await client.post(
        USERS, json={"name": "alice", "scopes": ["analytics"]}, headers=ADMIN
    )
    assert response.status == 201
    assert response.headers["Location"] == f"{USERS}/alice"
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.json()
    key = body.pop("api_key")
    assert body["name"] == "alice" and body["scopes"] == ["analytics"] and body["admin"] is False
    assert len(key) >= 43  # 32 random bytes, URL-safe base64
    me = await client.get("/api/v1/me", headers=bearer(key))
    assert await me.json() == {"name": "alice", "admin": False, "scopes": ["analytics"]}
    listed = await (await client.get(USERS, headers=ADMIN)).json()
    assert [u["name"] for u in listed["items"]] == ["admin", "alice"]
    assert all("api_key" not in u and "key_hash" not in u for u in listed["items"])
    for secret in (key, key.removeprefix("tk_"), ADMIN_KEY):
        for doc in raw_db["users"].find({}):
            assert secret not in repr(doc)
    await problem(await client.post(USERS, json={"name": "alice"}, headers=ADMIN), 409)


async def test_keys_differ_between_users(client: Client, make_user: Any) -> None:
    keys = {(await make_user(f"user{i}", []))["Authorization"] for i in range(4)}
    assert len(keys) == 4


async def test_patch_user(client: Client, make_scope: MakeScope, make_user: Any) -> None:
    await make_scope("analytics")
    await make_scope("ops")
    bob = await make_user("bob", ["analytics"])
    response = await client.patch(f"{USERS}/bob", json={"scopes": ["ops"]}, headers=ADMIN)
    assert response.status == 200
    body = await response.json()
    assert body["scopes"] == ["ops"] and body["admin"] is False
    assert parse(body["updated_at"]) >= parse(body["created_at"])
    assert (await (await client.get("/api/v1/me", headers=bob)).json())["scopes"] == ["ops"]
    promoted = await client.patch(f"{USERS}/bob", json={"admin": True}, headers=ADMIN)
    assert (await promoted.json())["admin"] is True
    assert (await client.get(USERS, headers=bob)).status == 200
    await problem(await client.patch(f"{USERS}/nosuch", json={"admin": True}, headers=ADMIN), 404)


async def test_delete_user_stops_its_key(client: Client, make_user: Any) -> None:
    carol = await make_user("carol", [])
    assert (await client.delete(f"{USERS}/carol", headers=ADMIN)).status == 204
    await problem(await client.get("/api/v1/me", headers=carol), 401)
    await problem(await client.delete(f"{USERS}/carol", headers=ADMIN), 404)
    recreated = await client.post(USERS, json={"name": "carol"}, headers=ADMIN)
    assert recreated.status == 201
    await problem(await client.get("/api/v1/me", headers=carol), 401)


async def test_key_rotation(client: Client, make_user: Any, raw_db: RawDb) -> None:
    old = await make_user("dave", [])
    response = await client.post(f"{USERS}/dave/key", headers=ADMIN)
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.json()
    new = bearer(body["api_key"])
    assert new != old and body["name"] == "dave"
    await problem(await client.get("/api/v1/me", headers=old), 401)
    assert (await client.get("/api/v1/me", headers=new)).status == 200
    assert body["api_key"] not in repr(list(raw_db["users"].find({})))
    await problem(await client.post(f"{USERS}/nosuch/key", headers=ADMIN), 404)


async def test_a_user_may_rotate_only_its_own_key(client: Client, make_user: Any) -> None:
    erin = await make_user("erin", [])
    frank = await make_user("frank", [])
    await problem(await client.post(f"{USERS}/frank/key", headers=erin), 403)
    assert (await client.get("/api/v1/me", headers=frank)).status == 200
    own = await client.post(f"{USERS}/erin/key", headers=erin)
    assert own.status == 200
    await problem(await client.get("/api/v1/me", headers=erin), 401)


async def test_an_admin_cannot_delete_or_demote_itself(client: Client, make_user: Any) -> None:
    await problem(await client.delete(f"{USERS}/admin", headers=ADMIN), 409)
    await problem(await client.patch(f"{USERS}/admin", json={"admin": False}, headers=ADMIN), 409)
    me = await (await client.get("/api/v1/me", headers=ADMIN)).json()
    assert me["admin"] is True
    root = await make_user("root", [], admin=True)
    demoted = await client.patch(f"{USERS}/admin", json={"admin": False}, headers=root)
    assert demoted.status == 200
    assert (await client.delete(f"{USERS}/admin", headers=root)).status == 204
    await problem(await client.get("/api/v1/me", headers=ADMIN), 401)


# ---- the first admin -------------------------------------------------------------------------


async def test_first_start_makes_admin_from_the_configured_key(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    first = await aiohttp_client(create_app(settings))
    me = await first.get("/api/v1/me", headers=ADMIN)
    assert await me.json() == {"name": "admin", "admin": True, "scopes": []}
    assert not (settings.data_dir / "admin.key").exists()
    # A later start with another key keeps the admin made first: the key is not replaced.
    other_key = "a-different-admin-key-0123456789abcdef"
    second = await aiohttp_client(create_app(replace(settings, admin_key=other_key)))
    assert (await second.get("/api/v1/me", headers=ADMIN)).status == 200
    await problem(await second.get("/api/v1/me", headers=bearer(other_key)), 401)


async def test_first_start_without_a_key_writes_one_to_the_data_dir(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    unconfigured = replace(settings, admin_key=None)
    client = await aiohttp_client(create_app(unconfigured))
    path = settings.data_dir / "admin.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key = path.read_text().strip()
    assert len(key) >= 43
    me = await client.get("/api/v1/me", headers=bearer(key))
    assert (await me.json())["name"] == "admin"
    await problem(await client.get("/api/v1/me", headers=ADMIN), 401)
    # Restarting does not make another admin or rewrite the file.
    again = await aiohttp_client(create_app(unconfigured))
    assert path.read_text().strip() == key
    users = await (await again.get(USERS, headers=bearer(key))).json()
    assert [u["name"] for u in users["items"]] == ["admin"]


async def test_a_deleted_first_admin_stays_deleted_after_a_restart(
    aiohttp_client: AiohttpClient, client: Client, make_user: Any, settings: Settings
) -> None:
    root = await make_user("root", [], admin=True)
    assert (await client.delete(f"{USERS}/admin", headers=root)).status == 204
    # Restarted with the same environment: the (leaked) configured key stays dead.
    restarted = await aiohttp_client(create_app(settings))
    await problem(await restarted.get("/api/v1/me", headers=ADMIN), 401)
    users = await (await restarted.get(USERS, headers=root)).json()
    assert [u["name"] for u in users["items"]] == ["root"]


async def test_a_database_with_users_from_before_the_record_counts_as_bootstrapped(
    aiohttp_client: AiohttpClient,
    client: Client,
    make_user: Any,
    settings: Settings,
    raw_db: Database[dict[str, Any]],
) -> None:
    root = await make_user("root", [], admin=True)
    assert (await client.delete(f"{USERS}/admin", headers=root)).status == 204
    # As an older version left it: users, but no record of the first admin.
    assert raw_db["meta"].delete_one({"_id": "bootstrap"}).deleted_count == 1
    restarted = await aiohttp_client(create_app(settings))
    await problem(await restarted.get("/api/v1/me", headers=ADMIN), 401)
    assert raw_db["meta"].count_documents({"_id": "bootstrap"}) == 1


@pytest.mark.parametrize("name", ["admin", "alice", "scope.with:dots-1"])
async def test_user_names_follow_the_scope_pattern(client: Client, name: str) -> None:
    response = await client.post(USERS, json={"name": name}, headers=ADMIN)
    assert response.status == (409 if name == "admin" else 201)
