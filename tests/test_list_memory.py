"""Lists answered from memory answer exactly what the database answers.

Three servers on one database: two answer lists from memory, one (``TOKENS_LIST_MEMORY_TOKENS``
0) from the database. Random creates, edits, revokes, regenerations, deletes, bulk revokes and
deletes, and scope changes go through all three, and writes behind their backs too; then random
(caller, filter, sort, page) requests go to each, and the three answers must be the same
bytes. A request follows the writes at once: memory must hold every change acknowledged before
it, whichever server made it.
"""

from __future__ import annotations

import random
import string
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId
from pymongo.database import Database

from tests.support import ADMIN, AiohttpClient, eventually, iso, lists_settled, now
from tokens_server.app import create_app
from tokens_server.domain.models import TokenSort
from tokens_server.http.state import REPOSITORY
from tokens_server.settings import Settings

Client = TestClient[Any, Any]
RawDb = Database[dict[str, Any]]
TOKENS = "/api/v1/tokens"
SCOPES = ("analytics", "ops", "billing", "ml")
WORDS = ("Deploy", "deploy", "CI", "Ci", "nightly", "Ünïcode", "straße", "STRASSE", "x")
SORTS: tuple[TokenSort, ...] = (
    "name", "-name", "is_active", "-is_active", "valid_from", "-valid_from", "valid_to",
    "-valid_to", "last_used_at", "-last_used_at", "created_at", "-created_at",
)  # fmt: skip
NAME_FILTERS = ("deploy", "ci", "STRASSE", "ünï", "x 1", "a", "night ci", "$where", ".*")
REQUESTS = 240


@pytest.fixture
async def servers(aiohttp_client: AiohttpClient, settings: Settings) -> list[Client]:
    """Two servers that list from memory, then one that lists from the database."""
    made = [
        await aiohttp_client(create_app(replace(settings, list_memory_tokens=size)))
        for size in (100_000, 100_000, 0)
    ]
    for client in made[:2]:
        lists = client.app[REPOSITORY].lists
        await eventually(lambda lists=lists: lists.answers, "lists answer from memory")
    return made


def _name(rng: random.Random) -> str:
    words = rng.sample(WORDS, rng.randint(1, 3))
    return " ".join(words) + rng.choice(("", "", " 1", " 2", " A"))


def _dates(rng: random.Random) -> dict[str, str | None]:
    # Far from now on both sides: the servers answer a few milliseconds apart.
    dates: dict[str, str | None] = {}
    if rng.random() < 0.3:
        dates["valid_from"] = iso(now() + timedelta(days=rng.randint(1, 20)))
    if rng.random() < 0.6:
        dates["valid_to"] = iso(now() + timedelta(days=rng.randint(21, 60), hours=rng.random()))
    return dates


async def _write(
    rng: random.Random, servers: list[Client], raw_db: RawDb, made: dict[str, str]
) -> None:
    """One random change through a random server, or behind their backs (then waited for:
    no server acknowledged it). ``made`` maps each token's id to its GUID."""
    client = rng.choice(servers)
    kind = rng.choice(
        ("create", "create", "create", "edit", "revoke", "regenerate", "delete", "raw", "bulk")
    )
    if kind == "create" or not made:
        body = {"name": _name(rng), "scopes": rng.sample(SCOPES, rng.randint(1, 2))}
        response = await client.post(TOKENS, json=body | _dates(rng), headers=ADMIN)
        assert response.status == 201, await response.text()
        token = await response.json()
        made[token["id"]] = token["guid"]
        return
    if kind == "bulk":  # a few tokens revoked or deleted in one chunk's transaction
        ids = rng.sample(sorted(made), min(len(made), rng.randint(1, 4)))
        action = rng.choice(("bulk-revoke", "bulk-delete"))
        response = await client.post(f"{TOKENS}/{action}", json={"ids": ids}, headers=ADMIN)
        assert response.status == 200, await response.text()
        if action == "bulk-delete":
            for deleted in ids:
                del made[deleted]
        return
    token_id = rng.choice(sorted(made))
    url = f"{TOKENS}/{token_id}"
    if kind == "edit":
        fields: dict[str, Any] = rng.choice(
            ({"name": _name(rng)}, {"scopes": rng.sample(SCOPES, 2)}, _dates(rng))
        )
        response = await client.patch(url, json=fields, headers=ADMIN)
    elif kind == "revoke":
        response = await client.post(f"{url}/revoke", headers=ADMIN)
    elif kind == "regenerate":
        response = await client.post(f"{url}/regenerate", headers=ADMIN)
        if response.status == 200:
            made[token_id] = (await response.json())["guid"]
    elif kind == "delete":
        response = await client.delete(url, headers=ADMIN)
        del made[token_id]
    else:  # a use, a refusal, or a start in the past, which only the database can be given
        past = now() - timedelta(days=rng.randint(1, 90), minutes=rng.randint(1, 59))
        field = rng.choice(("last_used_at", "valid_from", "last_refused_at"))
        raw_db["tokens"].update_one({"_id": ObjectId(token_id)}, {"$set": {field: past}})
        for memory_server in servers[:2]:
            await lists_settled(memory_server, raw_db)
        return
    # Revoking a revoked token conflicts, and so may changing one: both change nothing.
    assert response.status in (200, 204, 409), await response.text()


def _query(rng: random.Random, guids: list[str]) -> list[tuple[str, str]]:
    params = [("sort", rng.choice(SORTS))]
    if rng.random() < 0.3:
        params.append(("name", rng.choice(NAME_FILTERS)))
    if rng.random() < 0.2 and guids:
        guid = rng.choice(guids)
        params.append(("guid", guid[: rng.choice((4, 6, 8, 9, 12, 36))].upper()))
    if rng.random() < 0.3:
        params += [("scope", scope) for scope in rng.sample(SCOPES, rng.randint(1, 2))]
    if rng.random() < 0.3:
        params.append(("status", rng.choice(("active", "inactive"))))
    if rng.random() < 0.15:
        params.append(("expires_within", str(rng.choice((1, 30, 45, 90)))))
    if rng.random() < 0.15:
        params.append(("unused_for", str(rng.choice((1, 10, 30, 100)))))
    if rng.random() < 0.15:
        params.append(("refused_within", str(rng.choice((0, 10, 30, 100)))))
    params.append(("limit", str(rng.choice((1, 3, 10, 50, 200)))))
    params.append(("offset", str(rng.choice((0, 0, 1, 2, 5, 17, 100)))))
    return params


async def _answers(
    clients: list[Client], params: list[tuple[str, str]], headers: dict[str, str]
) -> list[tuple[int, bytes]]:
    """Each server's answer; a filter on a scope the caller lacks is refused by all alike."""
    answers = []
    for client in clients:
        response = await client.get(TOKENS, params=params, headers=headers)
        answers.append((response.status, await response.read()))
    return answers


@pytest.mark.slow
async def test_lists_from_memory_answer_what_the_database_answers(
    servers: list[Client], raw_db: RawDb
) -> None:
    seed = int(uuid.uuid4()) % 2**32
    rng = random.Random(seed)  # noqa: S311 (a test's draws, no secret)
    first, second, _ = servers
    for scope in SCOPES:
        response = await second.post("/api/v1/scopes", json={"name": scope}, headers=ADMIN)
        assert response.status == 201, await response.text()
    users = []
    for scopes in (["analytics"], ["ops", "ml"], ["billing", "analytics", "ops"]):
        name = "u" + "".join(rng.choices(string.ascii_lowercase, k=8))
        response = await first.post(
            "/api/v1/users", json={"name": name, "scopes": scopes}, headers=ADMIN
        )
        assert response.status == 201, await response.text()
        users.append({"Authorization": f"Bearer {(await response.json())['api_key']}"})
    made: dict[str, str] = {}
    for _ in range(120):
        await _write(rng, servers, raw_db, made)
    listed = 0
    while listed < REQUESTS:
        if rng.random() < 0.25:  # writes between the requests, through any server
            await _write(rng, servers, raw_db, made)
        params = _query(rng, list(made.values()))
        headers = rng.choice((ADMIN, *users))
        mine, theirs, truth = await _answers(servers, params, headers)
        assert mine == truth, (seed, params, headers)
        assert theirs == truth, (seed, params, headers)
        assert truth[0] in (200, 422), truth
        listed += truth[0] == 200
    for client in (first, second):
        assert client.app[REPOSITORY].lists.answers
