"""The list memory against a plain reference, in process and with no database: thousands of rows
with many ties, every filter and sort, deep pages, and tokens that start and end as the clock
moves. The reference filters each row as ``token_listing.filtering`` asks MongoDB, and sorts by
``token_listing.SORTS`` itself, key by key; tests/test_list_memory.py compares with MongoDB."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest
from bson import ObjectId

from tokens_server.domain.models import Caller, TokenQuery, TokenSort
from tokens_server.domain.names import search_key
from tokens_server.storage.list_memory import ListMemory
from tokens_server.storage.listed import Listed
from tokens_server.storage.memory import Memory
from tokens_server.storage.token_documents import NEVER
from tokens_server.storage.token_listing import SORTS

SCOPES = ("a", "b", "c", "d")
WORDS = ("alpha", "Beta", "gamma", "ALPHA", "delta", "straße")
ADMIN = Caller("admin", True, frozenset(), user_id="")
START = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _doc(rng: random.Random, n: int) -> dict[str, Any]:
    def moment() -> datetime:  # few distinct values: many ties
        return START + timedelta(hours=rng.randint(-6, 6) * 4)

    valid_from = moment()
    valid_to = rng.choice((None, moment(), valid_from + timedelta(hours=rng.randint(1, 30))))
    name = " ".join(rng.sample(WORDS, rng.randint(1, 2))) + rng.choice(("", "", " x"))
    prefix = f"{rng.randrange(16**8):08x}"
    return {
        "_id": ObjectId(),
        "guid_hash": uuid.uuid4().hex,
        "guid_enc": b"sealed",
        "guid_key": "k",
        "guid_prefix": prefix,
        "name": name,
        "name_key": search_key(name),
        "description": "",
        "scopes": rng.sample(SCOPES, rng.randint(1, 2)),
        "valid_from": valid_from,
        "valid_to": valid_to,
        "ends_at": NEVER if valid_to is None else valid_to,
        "created_at": moment(),
        "created_by": "admin",
        "updated_at": START,
        "updated_by": "admin",
        "revoked_at": None,
        "revoked_by": None,
        "last_used_at": rng.choice((None, moment())),
        "last_refused_at": rng.choice((None, None, moment())),
        "version": n,
    }


def _active(row: Listed, now: datetime) -> bool:
    return row.valid_from <= now and (row.valid_to is None or row.valid_to > now)


def _matches(row: Listed, query: TokenQuery, now: datetime) -> bool:
    held = row.held
    if query.scopes is not None and not set(query.scopes) & set(held.scopes):
        return False
    if query.guid_prefix is not None and not row.guid_prefix.startswith(query.guid_prefix[:8]):
        return False
    if query.status is not None and _active(row, now) != (query.status == "active"):
        return False
    if query.expires_within is not None:
        until = now + timedelta(days=query.expires_within)
        if not (row.valid_from <= now and row.valid_to and now < row.valid_to <= until):
            return False
    if query.unused_for is not None:
        cutoff = now - timedelta(days=query.unused_for)
        if row.last_used_at is not None and row.last_used_at > cutoff:
            return False
    if query.refused_within is not None:
        cutoff = now - timedelta(days=query.refused_within)
        if row.last_refused_at is None or row.last_refused_at <= cutoff:
            return False
    return all(word in row.name_key for word in query.keywords)


def _field(row: Listed, name: str, now: datetime) -> Any:
    if name == "last_used_at":  # null first, as MongoDB sorts it
        return (row.last_used_at is not None, row.last_used_at or START)
    values = {"name_key": row.name_key, "name": row.held.name, "_id": row.id}
    values |= {"valid_from": row.valid_from, "ends_at": row.ends_at}
    values |= {"created_at": row.held.created_at, "is_active": _active(row, now)}
    return values[name]


def _reference(rows: list[Listed], query: TokenQuery, now: datetime) -> tuple[list[str], int]:
    found = [row for row in rows if _matches(row, query, now)]
    for name, direction in reversed(SORTS[query.sort].items()):  # stable: last key first
        found.sort(key=lambda row: _field(row, name, now), reverse=direction < 0)
    page = found[query.offset : query.offset + query.limit]
    return [row.id for row in page], len(found)


def _query(rng: random.Random, rows: list[Listed]) -> TokenQuery:
    return TokenQuery(
        keywords=tuple(rng.sample(("alpha", "ta", "ß", "x", "gamma delta"), rng.randint(0, 1))),
        guid_prefix=rng.choice((None, None, None, rng.choice(rows).guid_prefix[:4], "0")),
        scopes=rng.choice((None, None, ("a",), ("b", "d"))),
        caller=ADMIN,
        status=rng.choice((None, None, "active", "inactive")),
        sort=rng.choice(get_args(TokenSort)),
        limit=rng.choice((1, 7, 50, 200)),
        offset=rng.choice((0, 0, 3, 40, 90, 500, 2900, 4500)),  # past the end, and twice past
        expires_within=rng.choice((None, None, None, 1, 2)),
        unused_for=rng.choice((None, None, None, 0, 1)),
        refused_within=rng.choice((None, None, None, 0, 1)),
    )


@pytest.mark.parametrize(("size", "rounds"), [(60, 400), (3000, 160)])
def test_pages_equal_the_reference_as_the_clock_moves(size: int, rounds: int) -> None:
    seed = int(uuid.uuid4()) % 2**32
    rng = random.Random(seed)  # noqa: S311 (a test's draws, no secret)
    memory = Memory(0, 0)
    memory.heard()
    lists = ListMemory(memory, size + 100)
    lists.reset("loading", "")
    rows = [Listed.of(_doc(rng, n)) for n in range(size)]
    lists.load(rows)
    asyncio.run(lists.index_loaded())
    now = START - timedelta(days=1)
    for round_ in range(rounds):
        if round_ % 40 == 0:  # tokens start and end between lists
            now += timedelta(hours=rng.randint(1, 9))
        if round_ % 20 == 0:  # some change, some go, some come, as the stream reports them
            changed = rng.sample(rows, 5)
            kept = {
                row.id: Listed.of(_doc(rng, round_) | {"_id": ObjectId(row.id)})
                for row in changed[:3]
            }
            made = Listed.of(_doc(rng, round_))
            kept[made.id] = made
            lists.refreshed([row.id for row in changed] + [made.id], kept)
            rows = [row for row in rows if row.id not in {r.id for r in changed}] + list(
                kept.values()
            )
        query = _query(rng, rows)
        page, total = lists.page(query, now)
        assert ([held.id for held in page], total) == _reference(rows, query, now), (seed, query)


async def test_indexing_a_load_leaves_the_event_loop_turns() -> None:
    """A large load is indexed in steps: a change stream left unread for the second it takes
    would time out, drop the memory and begin the load again, for ever."""
    rng = random.Random(7)  # noqa: S311 (a test's draws, no secret)
    lists = ListMemory(Memory(0, 0), 20_000)
    lists.reset("loading", "")
    lists.load(Listed.of(_doc(rng, n)) for n in range(12_000))
    turns = 0

    async def count_turns() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    counting = asyncio.create_task(count_turns())
    await asyncio.sleep(0)
    turns = 0
    await lists.index_loaded()
    counting.cancel()
    assert turns >= 3 + 5, "the index was built without letting other work run between steps"
    assert len(lists.rows()) == 12_000


async def test_a_use_reported_while_a_load_is_indexed_is_read_again_not_applied() -> None:
    rng = random.Random(8)  # noqa: S311 (a test's draws, no secret)
    lists = ListMemory(Memory(0, 0), 10_000)
    lists.reset("loading", "")
    rows = [Listed.of(_doc(rng, n)) for n in range(6_000)]
    lists.load(rows)
    indexing = asyncio.create_task(lists.index_loaded())
    await asyncio.sleep(0)  # it indexed a first step of rows, and no order yet
    assert rows[0].id in lists.rows()
    lists.changed(rows[0].id, START)
    await indexing
    assert lists.take_dirty() == [rows[0].id]
    assert lists.rows()[rows[0].id] == rows[0]


@pytest.mark.parametrize("sort", get_args(TokenSort))
def test_a_page_past_the_end_is_empty_in_every_order(sort: TokenSort) -> None:
    rng = random.Random(7)  # noqa: S311 (a test's draws, no secret)
    memory = Memory(0, 0)
    memory.heard()
    lists = ListMemory(memory, 10)
    lists.reset("loading", "")
    lists.load(Listed.of(_doc(rng, n)) for n in range(3))
    asyncio.run(lists.index_loaded())
    for offset in (3, 4, 5, 6, 7):  # at the end, past it, and past it by more than it holds
        query = TokenQuery((), None, None, ADMIN, None, sort, limit=10, offset=offset)
        assert lists.page(query, START) == ([], 3), offset
