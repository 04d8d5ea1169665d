"""Changes that wait while a commit is under way share the next one (storage/group_commit.py):
one transaction, one counter update and one journal wait for the group, one event per change,
and a refused change writes nothing and fails none of its neighbours."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pymongo.database import Database

import tokens_server.storage.group_commit as group_commit
from tests.support import ADMIN, AiohttpClient, now
from tokens_server.app import create_app
from tokens_server.domain.errors import Conflict, TokenLimitReached
from tokens_server.domain.models import Token
from tokens_server.http.state import REPOSITORY
from tokens_server.settings import Settings

Client = TestClient[Any, Any]
Db = Database[dict[str, Any]]
TOKENS = "/api/v1/tokens"


def _fields(name: str, guid: str | None = None) -> dict[str, Any]:
    """A new token's fields as the rules hand them to the repository."""
    start = now()
    return {
        "name": name,
        "description": "",
        "scopes": ["ops"],
        "guid": guid or str(uuid.uuid4()),
        "valid_from": start,
        "valid_to": start + timedelta(days=1),
    }


def _journal_writes(raw_db: Db) -> int:
    journal = raw_db["meta"].find_one({"_id": "journal"})
    return 0 if journal is None else int(journal["writes"])


@pytest.fixture
def transactions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """How each transaction a group ran ended: "committed" or the error that aborted it."""
    ended: list[str] = []
    in_transaction = group_commit.in_transaction

    async def counted(collection: Any, change: Callable[[Any], Awaitable[Any]]) -> Any:
        try:
            result = await in_transaction(collection, change)
        except Exception as error:
            ended.append(type(error).__name__)
            raise
        ended.append("committed")
        return result

    monkeypatch.setattr(group_commit, "in_transaction", counted)
    return ended


async def test_a_refused_change_leaves_its_group_committed_with_one_event_each(
    client: Client,
    raw_db: Db,
    make_scope: Callable[..., Awaitable[str]],
    make_user: Callable[..., Awaitable[dict[str, str]]],
    transactions: list[str],
) -> None:
    await make_scope("ops")
    await make_user("bob", ["ops"])
    await make_user("carol", ["ops"])
    taken = await (
        await client.post(TOKENS, json={"name": "Taken", "scopes": ["ops"]}, headers=ADMIN)
    ).json()
    tokens = client.app[REPOSITORY].tokens
    last_event = raw_db["events"].find_one(sort=[("_id", -1)])
    assert last_event is not None
    journal_before = _journal_writes(raw_db)
    transactions.clear()

    # Started together, the five join one group (each reaches the queue before the group's
    # commit begins): two refused inside the transaction, by the database (a GUID taken) and
    # by the rules (carol may hold no token).
    answers = await asyncio.gather(
        tokens.insert(_fields("First"), "bob", now(), limit=10),
        tokens.insert(_fields("Second"), "bob", now(), limit=10),
        tokens.insert(_fields("Twin", taken["guid"]), "bob", now(), limit=10),
        tokens.insert(_fields("Over"), "carol", now(), limit=0),
        tokens.insert(_fields("Third"), "bob", now(), limit=10),
        return_exceptions=True,
    )

    made = [a for a in answers if isinstance(a, Token)]
    assert [t.name for t in made] == ["First", "Second", "Third"]
    assert isinstance(answers[2], Conflict) and "GUID" in answers[2].detail
    assert isinstance(answers[3], TokenLimitReached)
    # Each refusal aborted the group's transaction, which then ran again without it.
    assert transactions == ["_Refused", "_Refused", "committed"]
    assert _journal_writes(raw_db) == journal_before + 1

    events = list(raw_db["events"].find({"_id": {"$gt": last_event["_id"]}}).sort("_id", 1))
    assert [e["_id"] for e in events] == [last_event["_id"] + n for n in (1, 2, 3)]
    assert [(e["action"], e["token_id"]) for e in events] == [
        ("token.created", t.id) for t in made
    ]
    assert len({e["commit"] for e in events}) == 1
    # The refused changes wrote nothing: no token, no quota slot.
    assert raw_db["tokens"].count_documents({"name": {"$in": ["Twin", "Over"]}}) == 0
    users = {u["name"]: u.get("token_slots", 0) for u in raw_db["users"].find()}
    assert (users["bob"], users["carol"]) == (3, 0)


async def test_a_group_the_database_fails_fails_each_change_and_writes_nothing(
    client: Client,
    raw_db: Db,
    make_scope: Callable[..., Awaitable[str]],
    transactions: list[str],
) -> None:
    """An error that is the database's, not one change's, fails the whole group: here the
    events' insert, after the event counter was wound back so that their ids are taken."""
    await make_scope("ops")
    tokens = client.app[REPOSITORY].tokens
    raw_db["meta"].update_one({"_id": "event_sequence"}, {"$set": {"last": 0}})
    transactions.clear()
    answers = await asyncio.gather(
        *(tokens.insert(_fields(f"T{n}"), "admin", now()) for n in range(3)),
        return_exceptions=True,
    )
    assert [type(a).__name__ for a in answers] == ["StorageFailed"] * 3
    assert transactions == ["BulkWriteError"]
    assert raw_db["tokens"].count_documents({}) == 0


async def test_concurrent_creates_on_two_instances_get_gap_free_ids_in_commit_order(
    aiohttp_client: AiohttpClient, settings: Settings, raw_db: Db
) -> None:
    """Each instance commits its own groups; both take ids from the one counter inside their
    transactions, so the groups' ids never interleave and none is skipped or taken twice."""
    first = await aiohttp_client(create_app(settings))
    second = await aiohttp_client(create_app(settings))
    assert (await first.post("/api/v1/scopes", json={"name": "ops"}, headers=ADMIN)).ok
    before = raw_db["events"].count_documents({})

    async def create(client: Client, n: int) -> str:
        body = {"name": f"T{n}", "scopes": ["ops"]}
        response = await client.post(TOKENS, json=body, headers=ADMIN)
        assert response.status == 201, await response.text()
        token_id: str = (await response.json())["id"]
        return token_id

    made = await asyncio.gather(*(create((first, second)[n % 2], n) for n in range(60)))

    events = list(raw_db["events"].find({}).sort("_id", 1))
    assert [e["_id"] for e in events] == list(range(1, before + 60 + 1))
    created = [e["token_id"] for e in events[before:]]
    assert sorted(created) == sorted(made) and all(e["action"] == "token.created"
                                                   for e in events[before:])
    by_commit: dict[Any, list[int]] = defaultdict(list)
    for event in events:
        by_commit[event["commit"]].append(event["_id"])
    for ids in by_commit.values():
        assert ids == list(range(ids[0], ids[0] + len(ids))), "groups' ids interleave"
