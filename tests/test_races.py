"""Concurrent writers: optimistic versions and unique indexes decide exactly one winner."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient
from pymongo.database import Database

from tests.support import ADMIN, in_

WRITERS = 8


async def _statuses(requests: list[Awaitable[Any]]) -> Counter[int]:
    responses = await asyncio.gather(*requests)
    return Counter(response.status for response in responses)


async def test_concurrent_patch_with_the_same_if_match_has_one_winner(
    client: TestClient[Any, Any], make_scope: Callable[..., Awaitable[str]], make_token: Any
) -> None:
    await make_scope("analytics")
    token = await make_token(name="Shared", scopes=["analytics"])
    url = f"/api/v1/tokens/{token['id']}"
    headers = {**ADMIN, "If-Match": '"1"'}
    statuses = await _statuses(
        [client.patch(url, json={"name": f"Writer {i}"}, headers=headers) for i in range(WRITERS)]
    )
    assert statuses == Counter({200: 1, 412: WRITERS - 1})
    final = await (await client.get(url, headers=ADMIN)).json()
    assert final["version"] == 2


async def test_concurrent_revoke_has_one_winner(
    client: TestClient[Any, Any], make_scope: Callable[..., Awaitable[str]], make_token: Any
) -> None:
    await make_scope("analytics")
    token = await make_token(name="Revoked once", scopes=["analytics"])
    url = f"/api/v1/tokens/{token['id']}/revoke"
    statuses = await _statuses([client.post(url, headers=ADMIN) for _ in range(WRITERS)])
    assert statuses == Counter({200: 1, 409: WRITERS - 1})


async def test_concurrent_creates_with_one_guid_have_one_winner(
    client: TestClient[Any, Any], make_scope: Callable[..., Awaitable[str]]
) -> None:
    await make_scope("analytics")
    guid = str(uuid.uuid4())
    body = {"name": "Twin", "scopes": ["analytics"], "guid": guid}
    statuses = await _statuses(
        [client.post("/api/v1/tokens", json=body, headers=ADMIN) for _ in range(WRITERS)]
    )
    assert statuses == Counter({201: 1, 409: WRITERS - 1})
    listed = await (await client.get(f"/api/v1/tokens?guid={guid}", headers=ADMIN)).json()
    assert listed["total"] == 1


async def test_concurrent_key_rotation_leaves_exactly_one_working_key(
    client: TestClient[Any, Any], make_user: Callable[..., Awaitable[dict[str, str]]]
) -> None:
    await make_user("alice", [])
    responses = await asyncio.gather(
        *[client.post("/api/v1/users/alice/key", headers=ADMIN) for _ in range(WRITERS)]
    )
    keys = [(await r.json())["api_key"] for r in responses]
    assert all(r.status == 200 for r in responses)
    working = 0
    for key in keys:
        me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
        working += me.status == 200
    assert working == 1



TRIALS = 25


def _admins(raw_db: Database[dict[str, Any]]) -> set[str]:
    return {user["name"] for user in raw_db["users"].find({"admin": True})}


async def _only_admins(
    client: TestClient[Any, Any], raw_db: Database[dict[str, Any]], by: dict[str, str], trial: int
) -> tuple[str, dict[str, str], str, dict[str, str]]:
    """Two new admins, made by the admin acting as ``by``; every other admin is demoted."""
    made = []
    for side in ("x", "y"):
        name = f"{side}{trial}"
        response = await client.post(
            "/api/v1/users", json={"name": name, "admin": True}, headers=by
        )
        assert response.status == 201, await response.text()
        made += [name, {"Authorization": f"Bearer {(await response.json())['api_key']}"}]
    x, x_key, y, y_key = made
    for name in _admins(raw_db) - {x, y}:
        response = await client.patch(
            f"/api/v1/users/{name}", json={"admin": False}, headers=x_key
        )
        assert response.status == 200, await response.text()
    assert _admins(raw_db) == {x, y}
    return x, x_key, y, y_key


async def test_two_admins_demoting_each_other_at_once_leave_one(
    client: TestClient[Any, Any], raw_db: Database[dict[str, Any]]
) -> None:
    survivor = ADMIN
    for trial in range(TRIALS):
        x, x_key, y, y_key = await _only_admins(client, raw_db, survivor, trial)
        responses = await asyncio.gather(
            client.patch(f"/api/v1/users/{y}", json={"admin": False}, headers=x_key),
            client.patch(f"/api/v1/users/{x}", json={"admin": False}, headers=y_key),
        )
        statuses = sorted(r.status for r in responses)
        left = _admins(raw_db)
        assert len(left) == 1, (trial, statuses)
        # The other was refused as the last admin (409) or, demoted first, as no admin (403).
        assert statuses in ([200, 403], [200, 409]), (trial, statuses)
        survivor = x_key if left == {x} else y_key


async def test_two_admins_deleting_each_other_at_once_leave_one(
    client: TestClient[Any, Any], raw_db: Database[dict[str, Any]]
) -> None:
    survivor = ADMIN
    for trial in range(TRIALS):
        x, x_key, y, y_key = await _only_admins(client, raw_db, survivor, trial)
        responses = await asyncio.gather(
            client.delete(f"/api/v1/users/{y}", headers=x_key),
            client.delete(f"/api/v1/users/{x}", headers=y_key),
        )
        statuses = sorted(r.status for r in responses)
        left = _admins(raw_db)
        assert len(left) == 1, (trial, statuses)
        # The other was refused as the last admin (409) or, deleted first, as unknown (401).
        assert statuses in ([204, 401], [204, 409]), (trial, statuses)
        survivor = x_key if left == {x} else y_key



PARALLEL = 50


async def test_parallel_patches_without_if_match_all_apply(
    client: TestClient[Any, Any], make_scope: Callable[..., Awaitable[str]], make_token: Any
) -> None:
    await make_scope("analytics")
    token = await make_token(name="Busy", scopes=["analytics"])
    url = f"/api/v1/tokens/{token['id']}"
    bodies = [
        {"name": f"Writer {i}"} if i % 2 else {"description": f"Writer {i}"}
        for i in range(PARALLEL)
    ]
    statuses = await _statuses([client.patch(url, json=b, headers=ADMIN) for b in bodies])
    assert statuses == Counter({200: PARALLEL})
    final = await (await client.get(url, headers=ADMIN)).json()
    assert final["version"] == 1 + PARALLEL


async def test_parallel_date_changes_without_if_match_all_apply(
    client: TestClient[Any, Any], make_scope: Callable[..., Awaitable[str]], make_token: Any
) -> None:
    # Each writer changes what the others' checks read (the dates), so each must retry on the
    # others' outcome rather than write over a state it did not check.
    await make_scope("analytics")
    token = await make_token(name="Busy dates", scopes=["analytics"])
    url = f"/api/v1/tokens/{token['id']}"
    bodies = [{"valid_to": in_(days=1 + i)} for i in range(WRITERS * 2)]
    statuses = await _statuses([client.patch(url, json=b, headers=ADMIN) for b in bodies])
    assert statuses == Counter({200: len(bodies)})
    final = await (await client.get(url, headers=ADMIN)).json()
    assert final["version"] == 1 + len(bodies)


async def test_parallel_regenerations_without_if_match_all_apply(
    client: TestClient[Any, Any], make_scope: Callable[..., Awaitable[str]], make_token: Any
) -> None:
    await make_scope("analytics")
    token = await make_token(name="Rotated", scopes=["analytics"])
    url = f"/api/v1/tokens/{token['id']}/regenerate"
    responses = await asyncio.gather(*[client.post(url, headers=ADMIN) for _ in range(PARALLEL)])
    assert Counter(r.status for r in responses) == Counter({200: PARALLEL})
    guids = {(await r.json())["guid"] for r in responses}
    assert len(guids) == PARALLEL
    final = await (await client.get(f"/api/v1/tokens/{token['id']}", headers=ADMIN)).json()
    assert final["version"] == 1 + PARALLEL and final["guid"] in guids
