"""Sorting a token list by its dates, each way: tokens that never expire after every date when
ascending by valid_to, never-used tokens first when ascending by last use, ties by name then
id (descending: the exact reverse, ties too, so one index serves both), and pages that split a
tie neither repeat nor skip a token."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId
from pymongo.database import Database

from tests.support import ADMIN, in_, lists_settled, now
from tokens_server.http.state import REPOSITORY
from tokens_server.storage.token_listing import SORTS

Client = TestClient[Any, Any]
MakeScope = Callable[..., Awaitable[str]]
MakeToken = Callable[..., Awaitable[dict[str, Any]]]
RawDb = Database[dict[str, Any]]
TOKENS = "/api/v1/tokens"


async def _names(client: Client, sort: str, **params: Any) -> list[str]:
    response = await client.get(TOKENS, params={"sort": sort, **params}, headers=ADMIN)
    assert response.status == 200, await response.text()
    return [token["name"] for token in (await response.json())["items"]]


@pytest.fixture
async def tokens(
    client: Client, make_scope: MakeScope, make_token: MakeToken, raw_db: RawDb
) -> dict[str, dict[str, Any]]:
    """Made in the order Delta, Alpha, Charlie, Bravo (so created_at is that order):
    Alpha and Bravo start at the same instant; Bravo never expires; Charlie was never used."""
    await make_scope("ops")
    ends = {"Delta": in_(days=2), "Alpha": in_(days=10), "Charlie": in_(days=5), "Bravo": None}
    made = {}
    for name, valid_to in ends.items():
        made[name] = await make_token(name=name, scopes=["ops"], valid_to=valid_to)
        await asyncio.sleep(0.005)  # a later created_at for each
    # Dates a client may not set (in the past), written directly.
    start, recent = now() - timedelta(days=3), now() - timedelta(days=1)
    stored = {
        "Delta": {
            "valid_from": now() - timedelta(days=1),
            "last_used_at": now() - timedelta(days=9),
        },
        "Alpha": {"valid_from": start, "last_used_at": recent},
        "Charlie": {"valid_from": now() - timedelta(days=2)},
        "Bravo": {"valid_from": start, "last_used_at": recent},
    }
    for name, fields in stored.items():
        raw_db["tokens"].update_one({"_id": ObjectId(made[name]["id"])}, {"$set": fields})
    await lists_settled(client, raw_db)
    return made


@pytest.mark.usefixtures("tokens")
@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("valid_from", ["Alpha", "Bravo", "Charlie", "Delta"]),
        ("-valid_from", ["Delta", "Charlie", "Bravo", "Alpha"]),
        ("valid_to", ["Delta", "Charlie", "Alpha", "Bravo"]),
        ("-valid_to", ["Bravo", "Alpha", "Charlie", "Delta"]),
        ("last_used_at", ["Charlie", "Delta", "Alpha", "Bravo"]),
        ("-last_used_at", ["Bravo", "Alpha", "Delta", "Charlie"]),
        ("created_at", ["Delta", "Alpha", "Charlie", "Bravo"]),
        ("-created_at", ["Bravo", "Charlie", "Alpha", "Delta"]),
    ],
)
async def test_each_date_sorts_both_ways_with_ties_by_name(
    client: Client, sort: str, order: list[str]
) -> None:
    assert await _names(client, sort) == order


async def test_a_revoked_token_sorts_by_the_end_revocation_gave_it(
    client: Client, tokens: dict[str, dict[str, Any]]
) -> None:
    revoked = await client.post(f"{TOKENS}/{tokens['Bravo']['id']}/revoke", headers=ADMIN)
    assert revoked.status == 200
    assert (await _names(client, "valid_to"))[0] == "Bravo"  # ended now, before all others


async def test_pages_that_split_a_tie_neither_repeat_nor_skip(
    client: Client, make_scope: MakeScope, make_token: MakeToken, raw_db: RawDb
) -> None:
    await make_scope("ops")
    for name in ("Echo", "Echo", "Echo", "Foxtrot", "Golf"):
        await make_token(name=name, scopes=["ops"])
    raw_db["tokens"].update_many({}, {"$set": {"valid_from": now() - timedelta(days=1)}})
    await lists_settled(client, raw_db)
    response = await client.get(TOKENS, params={"sort": "valid_from"}, headers=ADMIN)
    whole = [token["id"] for token in (await response.json())["items"]]
    paged = []
    for offset in range(0, 5, 2):
        params = {"sort": "valid_from", "limit": "2", "offset": str(offset)}
        page = await client.get(TOKENS, params=params, headers=ADMIN)
        paged += [token["id"] for token in (await page.json())["items"]]
    assert paged == whole and len(set(whole)) == 5
    assert whole[:3] == sorted(whole[:3])  # the three Echos by id


async def test_tokens_stored_before_end_dates_get_them_at_start(
    client: Client, make_scope: MakeScope, make_token: MakeToken, raw_db: RawDb
) -> None:
    await make_scope("ops")
    never = await make_token(name="Never", scopes=["ops"])
    soon = await make_token(name="Soon", scopes=["ops"], valid_to=in_(days=1))
    raw_db["tokens"].update_many({}, {"$unset": {"ends_at": ""}})
    assert await client.app[REPOSITORY].token_upkeep.add_end_dates() == 2
    await lists_settled(client, raw_db)
    assert await _names(client, "valid_to") == ["Soon", "Never"]
    stored = raw_db["tokens"].find_one({"_id": ObjectId(soon["id"])})
    assert stored is not None and stored["ends_at"] == stored["valid_to"]
    assert never["valid_to"] is None


async def test_each_date_sort_reads_one_index_forwards_or_backwards(
    client: Client, raw_db: RawDb
) -> None:
    indexes = [dict(index["key"]) for index in raw_db["tokens"].list_indexes()]
    for sort in ("valid_from", "valid_to", "last_used_at", "created_at"):
        ascending, descending = SORTS[sort], SORTS[f"-{sort}"]
        assert ascending in indexes, sort
        assert descending == {key: -direction for key, direction in ascending.items()}, sort
