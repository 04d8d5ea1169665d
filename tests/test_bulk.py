"""Bulk revoke and delete: each id gets the single change's rules and its own outcome, each
change its own event; a refusal of one id is explicit and leaves the others changed. The ids'
changes share a few group commits."""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId
from pymongo.database import Database
from pymongo.errors import ExecutionTimeout

import tokens_server.storage.group_commit as group_commit
from tests.support import ADMIN, AiohttpClient, expire, problem
from tokens_server.app import create_app
from tokens_server.domain.limits import BULK_IDS_MAX
from tokens_server.settings import Settings
from tokens_server.storage.group_commit import GROUP_MAX

Client = TestClient[Any, Any]
Db = Database[dict[str, Any]]
Headers = dict[str, str]
TOKENS = "/api/v1/tokens"
REVOKE = f"{TOKENS}/bulk-revoke"
DELETE = f"{TOKENS}/bulk-delete"
MakeToken = Callable[..., Awaitable[dict[str, Any]]]


def _token_events(raw_db: Db) -> list[tuple[str, str]]:
    """(action, token id) of every stored token event but creations, oldest first."""
    events = raw_db["events"].find({"action": {"$ne": "token.created"}}).sort("_id", 1)
    return [(e["action"], e["token_id"]) for e in events if e["action"].startswith("token.")]


def _outcomes(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["id"], r["outcome"]) for r in body["results"]]


async def _setup(client: Client, make_scope: Any, make_user: Any) -> Headers:
    """Scopes ops and billing; alice holds ops only."""
    await make_scope("ops")
    await make_scope("billing")
    alice: Headers = await make_user("alice", ["ops"])
    return alice


async def test_bulk_revoke_answers_each_outcome_in_order_and_one_event_per_change(
    client: Client, raw_db: Db, make_scope: Any, make_user: Any, make_token: MakeToken
) -> None:
    alice = await _setup(client, make_scope, make_user)
    active = await make_token(name="Active", scopes=["ops"])
    revoked = await make_token(name="Revoked", scopes=["ops"])
    assert (await client.post(f"{TOKENS}/{revoked['id']}/revoke", headers=ADMIN)).status == 200
    expired = await make_token(name="Expired", scopes=["ops"])
    await expire(client, raw_db, expired["id"])
    hidden = await make_token(name="Hidden", scopes=["billing"])
    shared = await make_token(name="Shared", scopes=["ops", "billing"])
    unknown = str(ObjectId())
    before = _token_events(raw_db)

    ids = [active["id"], revoked["id"], unknown, hidden["id"], shared["id"], expired["id"]]
    response = await client.post(REVOKE, json={"ids": ids}, headers=alice)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert _outcomes(body) == [
        (active["id"], "revoked"),
        (revoked["id"], "conflict"),
        (unknown, "not_found"),
        (hidden["id"], "not_found"),
        (shared["id"], "forbidden"),
        (expired["id"], "conflict"),
    ]
    assert body["counts"] == {
        "revoked": 1,
        "deleted": 0,
        "not_found": 2,
        "forbidden": 1,
        "conflict": 2,
    }
    details = {r["id"]: r["detail"] for r in body["results"]}
    assert details[active["id"]] is None
    # A token alice cannot see reads exactly like one that does not exist.
    assert details[hidden["id"]] == details[unknown].replace(unknown, hidden["id"])
    assert "billing" not in details[hidden["id"]] and "Hidden" not in str(body)
    assert "expired" in details[expired["id"]]

    assert _token_events(raw_db)[len(before) :] == [("token.revoked", active["id"])]
    after = await (await client.get(f"{TOKENS}/{active['id']}", headers=ADMIN)).json()
    assert after["status"] == "revoked" and after["revoked_by"] == "alice"
    for untouched in (hidden, shared):
        now = await (await client.get(f"{TOKENS}/{untouched['id']}", headers=ADMIN)).json()
        assert now["status"] == "active" and now["version"] == untouched["version"]


async def test_a_bulk_revoked_guid_no_longer_verifies(
    client: Client, make_scope: Any, make_token: MakeToken
) -> None:
    await make_scope("ops")
    tokens = [await make_token(name=f"T{i}", scopes=["ops"]) for i in range(3)]
    response = await client.post(REVOKE, json={"ids": [t["id"] for t in tokens]}, headers=ADMIN)
    assert (await response.json())["counts"]["revoked"] == 3
    for token in tokens:
        guid = {"guid": token["guid"]}
        verified = await client.post(f"{TOKENS}/verify", json=guid, headers=ADMIN)
        answer = await verified.json()
        assert (answer["valid"], answer["status"], answer["token"]) == (False, "revoked", None)


async def test_bulk_delete_deletes_what_may_be_changed_with_one_event_each(
    client: Client, raw_db: Db, make_scope: Any, make_user: Any, make_token: MakeToken
) -> None:
    alice = await _setup(client, make_scope, make_user)
    first = await make_token(name="First", scopes=["ops"])
    second = await make_token(name="Second", scopes=["ops"])
    # Deleting does not need the token active: a revoked one is deleted too.
    assert (await client.post(f"{TOKENS}/{second['id']}/revoke", headers=ADMIN)).status == 200
    hidden = await make_token(name="Hidden", scopes=["billing"])
    shared = await make_token(name="Shared", scopes=["ops", "billing"])
    before = _token_events(raw_db)

    ids = [shared["id"], first["id"], hidden["id"], second["id"]]
    body = await (await client.post(DELETE, json={"ids": ids}, headers=alice)).json()
    assert _outcomes(body) == [
        (shared["id"], "forbidden"),
        (first["id"], "deleted"),
        (hidden["id"], "not_found"),
        (second["id"], "deleted"),
    ]
    assert body["counts"]["deleted"] == 2 and body["counts"]["revoked"] == 0
    assert _token_events(raw_db)[len(before) :] == [
        ("token.deleted", first["id"]),
        ("token.deleted", second["id"]),
    ]
    for gone in (first, second):
        await problem(await client.get(f"{TOKENS}/{gone['id']}", headers=ADMIN), 404)
    for kept in (hidden, shared):
        assert (await client.get(f"{TOKENS}/{kept['id']}", headers=ADMIN)).status == 200

    # Sent again, the same request changes nothing more and says so.
    again = await (await client.post(DELETE, json={"ids": ids}, headers=alice)).json()
    assert [o for _, o in _outcomes(again)] == ["forbidden", "not_found", "not_found", "not_found"]


async def test_a_caller_who_may_change_none_of_them_changes_nothing(
    client: Client, raw_db: Db, make_scope: Any, make_user: Any, make_token: MakeToken
) -> None:
    """As for a single change: 403 where the caller sees the token, 404 where it does not."""
    await make_scope("ops")
    await make_scope("billing")
    viewer = await make_user("viewer", ["ops"])
    nobody = await make_user("nobody", [])
    tokens = [await make_token(name=f"T{i}", scopes=["ops", "billing"]) for i in range(2)]
    ids = [t["id"] for t in tokens]
    before = _token_events(raw_db)
    for url in (REVOKE, DELETE):
        seen = await (await client.post(url, json={"ids": ids}, headers=viewer)).json()
        assert [o for _, o in _outcomes(seen)] == ["forbidden", "forbidden"]
        unseen = await (await client.post(url, json={"ids": ids}, headers=nobody)).json()
        assert [o for _, o in _outcomes(unseen)] == ["not_found", "not_found"]
        await problem(await client.post(url, json={"ids": ids}), 401)
    assert _token_events(raw_db) == before


async def test_bad_bodies_are_refused_naming_the_field(client: Client) -> None:
    one = str(ObjectId())
    too_many = [str(ObjectId()) for _ in range(BULK_IDS_MAX + 1)]
    for url in (REVOKE, DELETE):
        await problem(await client.post(url, json={"ids": too_many}, headers=ADMIN), 422, "ids")
        await problem(await client.post(url, json={"ids": []}, headers=ADMIN), 422, "ids")
        await problem(await client.post(url, json={"ids": [one, one]}, headers=ADMIN), 422, "ids")
        malformed = {"ids": [one, "not-an-id"]}
        await problem(await client.post(url, json=malformed, headers=ADMIN), 422, "ids.1")
        await problem(await client.post(url, json={"ids": [one.upper()]}, headers=ADMIN), 422)
        await problem(await client.post(url, json={}, headers=ADMIN), 422, "ids")
        await problem(await client.post(url, json={"ids": one}, headers=ADMIN), 422, "ids")
        extra = {"ids": [one], "force": True}
        await problem(await client.post(url, json=extra, headers=ADMIN), 422, "force")
        await problem(await client.post(url, data=b"[", headers=ADMIN), 415)


async def test_the_document_states_the_limit_and_the_outcomes(client: Client) -> None:
    document = await (await client.get("/api/v1/openapi.json")).json()
    operation = document["paths"][REVOKE]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    body = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert body["properties"]["ids"]["maxItems"] == BULK_IDS_MAX
    assert body["properties"]["ids"]["minItems"] == 1
    result = document["components"]["schemas"]["BulkResultOut"]["properties"]["outcome"]
    assert set(result["enum"]) == {"revoked", "deleted", "not_found", "forbidden", "conflict"}
    assert {"403", "404", "409"}.isdisjoint(operation["responses"])


async def test_500_ids_in_one_request_take_a_few_transactions_one_event_each(
    aiohttp_client: AiohttpClient, settings: Settings, raw_db: Db
) -> None:
    # A database timeout long enough that a chunk never has to be smaller than GROUP_MAX, so
    # the number of transactions is known (a chunk takes fewer ids when changes are slow).
    client = await aiohttp_client(create_app(replace(settings, db_timeout_ms=60_000)))
    assert (await client.post("/api/v1/scopes", json={"name": "ops"}, headers=ADMIN)).ok

    async def create(n: int) -> str:
        body = {"name": f"T{n:03}", "scopes": ["ops"]}
        response = await client.post(TOKENS, json=body, headers=ADMIN)
        assert response.status == 201, await response.text()
        token_id: str = (await response.json())["id"]
        return token_id

    ids: list[str] = []
    for start in range(0, BULK_IDS_MAX, 50):
        ids += await asyncio.gather(*(create(n) for n in range(start, start + 50)))
    random.Random(20).shuffle(ids)  # noqa: S311 - an order, not a secret
    chunks = math.ceil(BULK_IDS_MAX / GROUP_MAX)

    for url, action, outcome in (
        (REVOKE, "token.revoked", "revoked"),
        (DELETE, "token.deleted", "deleted"),
    ):
        response = await client.post(url, json={"ids": ids}, headers=ADMIN)
        assert response.status == 200, await response.text()
        body = await response.json()
        assert _outcomes(body) == [(i, outcome) for i in ids]
        events = list(raw_db["events"].find({"action": action}).sort("_id", 1))
        # One event each, in request order, written by one commit per chunk of ids.
        assert [e["token_id"] for e in events] == ids
        assert len({e["commit"] for e in events}) == chunks
    assert raw_db["tokens"].count_documents({}) == 0


async def test_a_bulk_revoke_racing_single_revokes_on_another_instance_revokes_each_once(
    aiohttp_client: AiohttpClient, settings: Settings, raw_db: Db
) -> None:
    """A chunk judges its tokens as it read them and writes them in the same transaction: a
    token another instance revokes in between is a write conflict, and the chunk runs again on
    a fresh read. So each token is revoked once, by one side, with one event."""
    # Long enough that a run lost to a conflict is run again rather than timed out.
    slow = replace(settings, db_timeout_ms=60_000)
    first = await aiohttp_client(create_app(slow))
    second = await aiohttp_client(create_app(slow))
    assert (await first.post("/api/v1/scopes", json={"name": "ops"}, headers=ADMIN)).ok
    made = [
        await first.post(TOKENS, json={"name": f"T{n}", "scopes": ["ops"]}, headers=ADMIN)
        for n in range(60)
    ]
    ids = [(await response.json())["id"] for response in made]

    async def single(token_id: str) -> str:
        response = await second.post(f"{TOKENS}/{token_id}/revoke", headers=ADMIN)
        assert response.status in (200, 409), await response.text()
        return "revoked" if response.status == 200 else "conflict"

    bulk, *singles = await asyncio.gather(
        first.post(REVOKE, json={"ids": ids}, headers=ADMIN), *(single(i) for i in ids)
    )
    assert bulk.status == 200, await bulk.text()
    by_bulk = dict(_outcomes(await bulk.json()))
    for token_id, by_single in zip(ids, singles, strict=True):
        assert {by_bulk[token_id], by_single} == {"revoked", "conflict"}, token_id
    revocations = Counter(e["token_id"] for e in raw_db["events"].find({"action": "token.revoked"}))
    assert revocations == Counter(ids)
    versions = {
        t["version"] for t in raw_db["tokens"].find({"_id": {"$in": [ObjectId(i) for i in ids]}})
    }
    assert versions == {2}


async def test_a_chunk_that_runs_out_of_time_is_sent_again_as_smaller_ones(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    raw_db: Db,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a machine busier than the estimate of a change's cost knew, a chunk's transaction
    runs past the database timeout and changes nothing: the request goes on in smaller chunks
    rather than failing."""
    client = await aiohttp_client(create_app(replace(settings, db_timeout_ms=60_000)))
    assert (await client.post("/api/v1/scopes", json={"name": "ops"}, headers=ADMIN)).ok
    made = [
        await client.post(TOKENS, json={"name": f"T{n}", "scopes": ["ops"]}, headers=ADMIN)
        for n in range(GROUP_MAX)
    ]
    ids = [(await response.json())["id"] for response in made]
    in_transaction = group_commit.in_transaction
    timed_out = []

    async def first_one_too_slow(collection: Any, change: Any) -> Any:
        if not timed_out:
            timed_out.append(True)
            raise ExecutionTimeout("operation exceeded time limit", 50)
        return await in_transaction(collection, change)

    monkeypatch.setattr(group_commit, "in_transaction", first_one_too_slow)
    response = await client.post(REVOKE, json={"ids": ids}, headers=ADMIN)
    assert response.status == 200, await response.text()
    assert _outcomes(await response.json()) == [(i, "revoked") for i in ids]
    events = list(raw_db["events"].find({"action": "token.revoked"}).sort("_id", 1))
    assert [e["token_id"] for e in events] == ids
    by_commit = Counter(e["commit"] for e in events)
    assert max(by_commit.values()) <= GROUP_MAX // 2 and len(by_commit) >= 2
