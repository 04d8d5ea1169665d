"""Verify, get and authentication answer from memory, and memory stays exact: a change made
through one instance is refused by another at once (polled, within a bound far above the
milliseconds it takes), memory keeps within its bound, and a token expires the moment its
valid_to passes. A stalled or failed change stream is in tests/test_faults.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.support import ADMIN, AiohttpClient, iso, now
from tokens_server.app import create_app
from tokens_server.http.state import REPOSITORY
from tokens_server.settings import Settings
from tokens_server.storage.memory import HEARD_WITHIN_S, Memory

Client = TestClient[Any, Any]
MakeScope = Callable[..., Awaitable[str]]
MakeUser = Callable[..., Awaitable[dict[str, str]]]
MakeToken = Callable[..., Awaitable[dict[str, Any]]]
TOKENS = "/api/v1/tokens"
# What "at once" is allowed to take here: the change stream delivers in milliseconds (see the
# propagation benchmark), on a machine that may be busy with other tests.
WITHIN_S = 2.0


@pytest.fixture
async def other(aiohttp_client: AiohttpClient, settings: Settings, client: Client) -> Client:
    """A second instance on the same database, with its own memory and change stream."""
    return await aiohttp_client(create_app(settings))


async def _verify(client: Client, guid: str, headers: dict[str, str] = ADMIN) -> str:
    response = await client.post(f"{TOKENS}/verify", json={"guid": guid}, headers=headers)
    assert response.status == 200, await response.text()
    status: str = (await response.json())["status"]
    return status


async def _until(check: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + WITHIN_S
    while not await check():
        assert time.monotonic() < deadline, f"not seen within {WITHIN_S} s"
        await asyncio.sleep(0.005)


def _remembers(client: Client, token_id: str) -> bool:
    return client.app[REPOSITORY].memory.holds_token(token_id)


async def _held_by_other(other: Client, token: dict[str, Any]) -> None:
    """The other instance answers the token from memory: a first verify put it there."""
    assert await _verify(other, token["guid"]) == "active"
    assert _remembers(other, token["id"])


async def test_a_revocation_is_refused_by_another_instance_at_once(
    client: Client, other: Client, make_scope: MakeScope, make_token: MakeToken
) -> None:
    await make_scope("ops")
    token = await make_token(name="Nightly", scopes=["ops"])
    await _held_by_other(other, token)

    assert (await client.post(f"{TOKENS}/{token['id']}/revoke", headers=ADMIN)).status == 200
    await _until(lambda: _is(other, token["guid"], "revoked"))


async def test_a_regenerated_guid_is_refused_by_another_instance_at_once(
    client: Client, other: Client, make_scope: MakeScope, make_token: MakeToken
) -> None:
    await make_scope("ops")
    token = await make_token(name="Nightly", scopes=["ops"])
    await _held_by_other(other, token)

    made = await client.post(f"{TOKENS}/{token['id']}/regenerate", headers=ADMIN)
    new_guid = (await made.json())["guid"]
    await _until(lambda: _is(other, token["guid"], "not_found"))
    assert await _verify(other, new_guid) == "active"


async def test_a_guid_whose_grace_is_ended_is_refused_by_another_instance_at_once(
    client: Client, other: Client, make_scope: MakeScope, make_token: MakeToken
) -> None:
    await make_scope("ops")
    token = await make_token(name="Nightly", scopes=["ops"])
    url = f"{TOKENS}/{token['id']}/regenerate"
    assert (await client.post(url, json={"grace": 3600}, headers=ADMIN)).status == 200
    # The other instance holds the token, found by the GUID it replaced.
    assert await _verify(other, token["guid"]) == "active"
    assert _remembers(other, token["id"])

    assert (await client.post(url, headers=ADMIN)).status == 200
    await _until(lambda: _is(other, token["guid"], "not_found"))


async def test_a_written_use_updates_another_instances_copy_without_forgetting_it(
    client: Client, other: Client, make_scope: MakeScope, make_token: MakeToken
) -> None:
    await make_scope("ops")
    token = await make_token(name="Nightly", scopes=["ops"])
    await _held_by_other(other, token)
    assert await _verify(client, token["guid"]) == "active"  # a use, noted by the first
    assert await client.app[REPOSITORY].tokens.last_use.flush() == 1

    async def taken_into_the_copy() -> bool:
        # Asked of memory alone: a read through the database would keep a new copy anyway.
        held = other.app[REPOSITORY].memory.token(token["id"])
        assert held is not None, "forgotten: every token in use would go to the database"
        return held.last_used_at is not None

    await _until(taken_into_the_copy)
    got = await (await other.get(f"{TOKENS}/{token['id']}", headers=ADMIN)).json()
    assert got["last_used_at"] is not None
    # Any other write still makes it forget.
    changed = await client.patch(
        f"{TOKENS}/{token['id']}", json={"description": "new"}, headers=ADMIN
    )
    assert changed.status == 200
    await _until(lambda: _forgot(other, token["id"]))


async def _forgot(client: Client, token_id: str) -> bool:
    return not _remembers(client, token_id)


async def test_a_deleted_token_is_gone_from_another_instance_at_once(
    client: Client, other: Client, make_scope: MakeScope, make_token: MakeToken
) -> None:
    await make_scope("ops")
    token = await make_token(name="Nightly", scopes=["ops"])
    await _held_by_other(other, token)
    assert (await other.get(f"{TOKENS}/{token['id']}", headers=ADMIN)).status == 200

    assert (await client.delete(f"{TOKENS}/{token['id']}", headers=ADMIN)).status == 204
    await _until(lambda: _is(other, token["guid"], "not_found"))
    assert (await other.get(f"{TOKENS}/{token['id']}", headers=ADMIN)).status == 404


async def test_a_rotated_key_is_refused_by_another_instance_at_once(
    client: Client, other: Client, make_user: MakeUser
) -> None:
    olga = await make_user("olga", [])
    assert (await other.get("/api/v1/me", headers=olga)).status == 200

    rotated = await client.post("/api/v1/users/olga/key", headers=olga)
    assert rotated.status == 200
    new_key = {"Authorization": f"Bearer {(await rotated.json())['api_key']}"}

    async def refused() -> bool:
        return (await other.get("/api/v1/me", headers=olga)).status == 401

    await _until(refused)
    assert (await other.get("/api/v1/me", headers=new_key)).status == 200


async def test_a_removed_scope_is_refused_by_another_instance_at_once(
    client: Client,
    other: Client,
    make_scope: MakeScope,
    make_user: MakeUser,
    make_token: MakeToken,
) -> None:
    await make_scope("ops")
    olga = await make_user("olga", ["ops"])
    token = await make_token(name="Nightly", scopes=["ops"])
    assert await _verify(other, token["guid"], olga) == "active"

    changed = await client.patch("/api/v1/users/olga", json={"scopes": []}, headers=ADMIN)
    assert changed.status == 200
    await _until(lambda: _is(other, token["guid"], "not_found", olga))


async def test_a_token_expires_the_moment_its_valid_to_passes(
    client: Client, make_scope: MakeScope, make_token: MakeToken
) -> None:
    await make_scope("ops")
    ends = now() + timedelta(seconds=1)
    token = await make_token(name="Brief", scopes=["ops"], valid_to=iso(ends))
    assert await _verify(client, token["guid"]) == "active"
    assert _remembers(client, token["id"])
    await asyncio.sleep(max(0.0, (ends - now()).total_seconds()) + 0.01)
    assert await _verify(client, token["guid"]) == "expired"


async def test_memory_holds_at_most_its_bound(
    aiohttp_client: AiohttpClient, settings: Settings, make_scope: MakeScope, make_user: MakeUser
) -> None:
    small = await aiohttp_client(create_app(replace(settings, memory_tokens=3, memory_users=2)))
    memory = small.app[REPOSITORY].memory
    await make_scope("ops")
    users = [await make_user(f"user{n}", ["ops"]) for n in range(4)]
    tokens = []
    for n in range(6):
        made = await small.post(TOKENS, json={"name": f"T{n}", "scopes": ["ops"]}, headers=ADMIN)
        tokens.append(await made.json())
    for n, token in enumerate(tokens):
        assert await _verify(small, token["guid"], users[n % 4]) == "active"
        assert memory.sizes[0] <= 3 and memory.sizes[1] <= 2
    assert memory.sizes == (3, 2) and memory.index_sizes == (3, 2)
    # The most recently used stay; the others are read again, with the same answers.
    assert [_remembers(small, t["id"]) for t in tokens] == [False] * 3 + [True] * 3
    for n, token in enumerate(tokens):
        assert await _verify(small, token["guid"], users[n % 4]) == "active"


async def _is(client: Client, guid: str, status: str, headers: dict[str, str] = ADMIN) -> bool:
    return await _verify(client, guid, headers) == status


async def test_a_new_scope_is_listed_by_another_instance_at_once(
    client: Client, other: Client, make_scope: MakeScope
) -> None:
    async def names() -> list[str]:
        response = await other.get("/api/v1/scopes", headers=ADMIN)
        return [scope["name"] for scope in (await response.json())["items"]]

    assert await names() == []
    await make_scope("ops")

    async def listed() -> bool:
        return await names() == ["ops"]

    await _until(listed)
    assert (await client.delete("/api/v1/scopes/ops", headers=ADMIN)).status == 204

    async def gone() -> bool:
        return await names() == []

    await _until(gone)


async def test_no_memory_at_all_keeps_nothing(
    aiohttp_client: AiohttpClient, settings: Settings, make_scope: MakeScope
) -> None:
    none = await aiohttp_client(create_app(replace(settings, memory_tokens=0, memory_users=0)))
    memory = none.app[REPOSITORY].memory
    await make_scope("ops")
    made = await none.post(TOKENS, json={"name": "T", "scopes": ["ops"]}, headers=ADMIN)
    token = await made.json()
    for _ in range(2):
        assert await _verify(none, token["guid"]) == "active"
    assert memory.sizes == (0, 0) and memory.index_sizes == (0, 0)


def test_health_tells_a_stream_not_heard_yet_from_one_gone_quiet() -> None:
    """/health gives the reason while memory is not trusted: right after a start (or a lost
    stream) nothing has been heard yet, which is not the same as a stream that went quiet."""
    clock = [100.0]
    memory = Memory(10, 10, clock=lambda: clock[0])
    assert not memory.trusted
    assert memory.distrusted_because == "the change stream has not answered since it opened"
    memory.heard()
    assert memory.trusted
    clock[0] += HEARD_WITHIN_S
    assert not memory.trusted
    assert memory.distrusted_because == "the change stream has not answered for a while"
    memory.lost()
    assert memory.distrusted_because == "the change stream has not answered since it opened"
