"""Usage counts: what verify counts, per token and hour, adds up across instances and survives a
failed flush; the series and the summary answer it zero-filled, bounded and only to those who
see the token. Flushes are run in-process (``UsageCounter.flush``), never waited for."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pymongo
import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId
from pymongo.database import Database

from tests.support import (
    ADMIN,
    AiohttpClient,
    eventually,
    expire,
    in_,
    iso,
    now,
    parse,
    problem,
    set_raw,
)
from tokens_server.app import create_app
from tokens_server.domain.errors import DomainError
from tokens_server.domain.usage import REFUSALS
from tokens_server.http.state import REPOSITORY
from tokens_server.settings import Settings
from tokens_server.storage.usage_counts import CHUNK

Client = TestClient[Any, Any]
RawDb = Database[dict[str, Any]]
TOKENS = "/api/v1/tokens"
HOUR = 3600
ZERO = dict.fromkeys(REFUSALS, 0)


async def _verify(client: Client, guid: str, scopes: tuple[str, ...] = (), times: int = 1) -> str:
    status = ""
    for _ in range(times):
        response = await client.post(
            f"{TOKENS}/verify", json={"guid": guid, "scopes": list(scopes)}, headers=ADMIN
        )
        assert response.status == 200, await response.text()
        status = (await response.json())["status"]
    return status


async def _flush(*clients: Client) -> None:
    for client in clients:
        await client.app[REPOSITORY].usage_counts.flush()


async def _usage(
    client: Client, token_id: str, headers: dict[str, str] = ADMIN, **params: str
) -> Any:
    response = await client.get(f"{TOKENS}/{token_id}/usage", params=params, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def _summary(
    client: Client, headers: dict[str, str] = ADMIN, **params: str | list[str]
) -> Any:
    response = await client.get("/api/v1/usage", params=params, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


@pytest.fixture
async def two(aiohttp_client: AiohttpClient, settings: Settings) -> list[Client]:
    """Two instances on one database, each with its own counts."""
    return [await aiohttp_client(create_app(settings)) for _ in range(2)]


async def _token(client: Client, **fields: Any) -> dict[str, Any]:
    body = {"name": "T", "scopes": ["ops"]} | fields
    response = await client.post(TOKENS, json=body, headers=ADMIN)
    assert response.status == 201, await response.text()
    token: dict[str, Any] = await response.json()
    return token


async def test_counts_from_two_instances_add_up_exactly(two: list[Client], raw_db: RawDb) -> None:
    first, second = two
    await first.post("/api/v1/scopes", json={"name": "ops"}, headers=ADMIN)
    await first.post("/api/v1/scopes", json={"name": "billing"}, headers=ADMIN)
    used = await _token(first, name="Used")
    revoked = await _token(first, name="Revoked")
    await first.post(f"{TOKENS}/{revoked['id']}/revoke", headers=ADMIN)
    expired = await _token(first, name="Expired")
    await expire(first, raw_db, expired["id"])
    scheduled = await _token(first, name="Scheduled", valid_from=in_(days=2))
    rotated = await _token(first, name="Rotated")
    regenerated = await first.post(
        f"{TOKENS}/{rotated['id']}/regenerate", json={"grace": HOUR}, headers=ADMIN
    )
    assert regenerated.status == 200
    await set_raw(first, raw_db, rotated["id"], previous_guid_until=now() - timedelta(seconds=1))
    # What each instance is sent: (token, guid, scopes, answer) -> (on first, on second).
    sent = [
        (used, used["guid"], (), "active", 3, 4),
        (used, used["guid"], ("billing",), "insufficient_scope", 2, 1),
        (revoked, revoked["guid"], (), "revoked", 1, 2),
        (expired, expired["guid"], (), "expired", 2, 2),
        (scheduled, scheduled["guid"], (), "scheduled", 1, 1),
        (rotated, rotated["guid"], (), "not_found", 2, 3),
    ]
    for _, guid, scopes, answer, on_first, on_second in sent:
        assert await _verify(first, guid, scopes, on_first) == answer
        assert await _verify(second, guid, scopes, on_second) == answer
    # A GUID of no token counts for none.
    assert await _verify(first, "0f8b5c1e-7d3a-4c2b-9e6f-1a2b3c4d5e6f") == "not_found"
    await _flush(first, second)

    def expected(token: dict[str, Any]) -> dict[str, int]:
        counts = {"uses": 0} | ZERO
        names = {"active": "uses", "insufficient_scope": "missing_scopes", "revoked": "revoked",
                 "expired": "expired", "scheduled": "not_yet_active",
                 "not_found": "superseded_after_grace"}  # fmt: skip
        for sent_token, _, _, answer, on_first, on_second in sent:
            if sent_token["id"] == token["id"]:
                counts[names[answer]] += on_first + on_second
        return counts

    for token in (used, revoked, expired, scheduled, rotated):
        want = expected(token)
        series = await _usage(second, token["id"])
        refusals = {k: v for k, v in want.items() if k != "uses"}
        totals = {"uses": want["uses"], "refused": sum(refusals.values()), "refusals": refusals}
        assert series["totals"] == totals, token["name"]
        today = [b for b in series["buckets"] if b["uses"] or b["refused"]]
        assert len(today) == 1 and today[0] | {"start": None} == totals | {"start": None}
    summary = await _summary(first)
    by_id = {item["token_id"]: item for item in summary["items"]}
    assert by_id[used["id"]]["uses"] == 7 and by_id[used["id"]]["refused"] == 3
    assert by_id[rotated["id"]]["refusals"]["superseded_after_grace"] == 5
    # Flushed: nothing left to write twice.
    await _flush(first, second)
    assert (await _usage(first, used["id"]))["totals"]["uses"] == 7
    # One document a token for its day's hours, one for its month's days.
    assert raw_db["usage_hours"].count_documents({}) == 5
    assert raw_db["usage_days"].count_documents({}) == 5


async def test_a_failed_flush_keeps_its_counts_and_a_later_one_writes_them_once(
    client: Client, raw_db: RawDb
) -> None:
    await client.post("/api/v1/scopes", json={"name": "ops"}, headers=ADMIN)
    token, other = await _token(client), await _token(client, name="Other")
    counter = client.app[REPOSITORY].usage_counts
    day = datetime(2026, 11, 20, tzinfo=UTC)
    at = day + timedelta(hours=13, minutes=30)
    window = {"from": iso(day), "to": iso(day + timedelta(days=1))}

    async def uses(token_id: str, bucket: str) -> int:
        series = await _usage(client, token_id, bucket=bucket, **window)
        return int(series["totals"]["uses"])

    for _ in range(3):
        counter.count(token["id"], "uses", at)
    # The database does not answer in time: nothing is written, everything kept.
    with pytest.raises(DomainError), pymongo.timeout(1e-6):
        await counter.flush()
    assert raw_db["usage_hours"].count_documents({}) == 0
    assert raw_db["usage_days"].count_documents({}) == 0
    for _ in range(2):
        counter.count(token["id"], "uses", at)
    for _ in range(4):
        counter.count(other["id"], "uses", at)
    # The database refuses one write of a batch (a document it cannot add to) and takes the
    # others: only the refused one is kept, and written once it can be.
    poisoned = {"token_id": ObjectId(token["id"]), "day": day}
    raw_db["usage_hours"].insert_one(poisoned | {"h": "not a document"})
    with pytest.raises(DomainError):
        await counter.flush()
    assert (await uses(token["id"], "day"), await uses(other["id"], "hour")) == (5, 4)
    raw_db["usage_hours"].delete_one(poisoned)
    assert await counter.flush() == 1
    assert (await uses(token["id"], "hour"), await uses(token["id"], "day")) == (5, 5)
    assert (await uses(other["id"], "hour"), await uses(other["id"], "day")) == (4, 4)
    assert await counter.flush() == 0


async def test_series_are_zero_filled_and_rounded_to_whole_buckets(client: Client) -> None:
    await client.post("/api/v1/scopes", json={"name": "ops"}, headers=ADMIN)
    token = await _token(client)
    counter = client.app[REPOSITORY].usage_counts
    day = datetime(2026, 11, 20, tzinfo=UTC)
    counter.count(token["id"], "uses", day + timedelta(hours=10, minutes=59))  # first hour
    counter.count(token["id"], "uses", day + timedelta(hours=13, minutes=1))  # last hour
    counter.count(token["id"], "revoked", day + timedelta(hours=14))  # just past the window
    counter.count(token["id"], "expired", day - timedelta(seconds=1))  # the day before
    await _flush(client)
    hourly = await _usage(
        client,
        token["id"],
        bucket="hour",
        **{"from": iso(day + timedelta(hours=10, minutes=30))},
        to=iso(day + timedelta(hours=13, minutes=10)),
    )
    assert (hourly["from"], hourly["to"]) == (
        "2026-11-20T10:00:00.000Z",
        "2026-11-20T14:00:00.000Z",
    )
    assert [b["start"][11:16] for b in hourly["buckets"]] == ["10:00", "11:00", "12:00", "13:00"]
    assert [b["uses"] for b in hourly["buckets"]] == [1, 0, 0, 1]
    assert hourly["buckets"][1] == {"start": hourly["buckets"][1]["start"], "uses": 0,
                                    "refused": 0, "refusals": ZERO}  # fmt: skip
    assert hourly["totals"]["refused"] == 0
    daily = await _usage(
        client,
        token["id"],
        **{"from": iso(day - timedelta(hours=1))},
        to=iso(day + timedelta(days=1)),
    )
    assert daily["bucket"] == "day"
    assert [b["start"] for b in daily["buckets"]] == [
        "2026-11-19T00:00:00.000Z",
        "2026-11-20T00:00:00.000Z",
    ]
    assert [(b["uses"], b["refused"]) for b in daily["buckets"]] == [(0, 1), (2, 1)]
    # Defaults: by day, the 14 days up to now.
    default = await _usage(client, token["id"])
    assert default["bucket"] == "day" and len(default["buckets"]) == 15
    assert parse(default["to"]) >= now() - timedelta(seconds=5)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-11-20T00:00:00Z", "to": "2026-11-20T00:00:00Z"}, "from"),
        ({"from": "2026-11-21T00:00:00Z", "to": "2026-11-20T00:00:00Z"}, "from"),
        ({"from": "2025-01-01T00:00:00Z", "to": "2026-11-20T00:00:00Z"}, "from"),
        (
            {"from": "2026-08-01T00:00:00Z", "to": "2026-11-20T00:00:00Z", "bucket": "hour"},
            "bucket",
        ),
        ({"bucket": "week"}, "bucket"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-11-20T00:00:00"}, "to"),
        ({"to": "9999-12-31T23:30:00Z"}, "to"),
        ({"from_": "2026-11-20T00:00:00Z"}, "from_"),
    ],
)
async def test_windows_out_of_bounds_are_422_naming_the_field(
    client: Client, params: dict[str, str], field: str
) -> None:
    await client.post("/api/v1/scopes", json={"name": "ops"}, headers=ADMIN)
    token = await _token(client)
    response = await client.get(f"{TOKENS}/{token['id']}/usage", params=params, headers=ADMIN)
    await problem(response, 422, field)
    summary_params = {k: v for k, v in params.items() if k != "bucket"}
    if summary_params and field != "bucket":
        response = await client.get("/api/v1/usage", params=summary_params, headers=ADMIN)
        await problem(response, 422, field)


async def test_a_window_of_2000_hours_is_served(client: Client) -> None:
    await client.post("/api/v1/scopes", json={"name": "ops"}, headers=ADMIN)
    token = await _token(client)
    to = datetime(2026, 11, 20, tzinfo=UTC)
    series = await _usage(
        client, token["id"], bucket="hour", **{"from": iso(to - timedelta(hours=2000))}, to=iso(to)
    )
    assert len(series["buckets"]) == 2000


async def test_usage_is_seen_only_by_those_who_see_the_token(
    client: Client, make_scope: Any, make_user: Any
) -> None:
    await make_scope("ops")
    await make_scope("billing")
    ops_token = await _token(client, name="Ops")
    billing_token = await _token(client, name="Billing", scopes=["billing"])
    analyst = await make_user("analyst", ["ops"])
    # The analyst cannot see the billing token: its verification is not_found, uncounted.
    response = await client.post(
        f"{TOKENS}/verify", json={"guid": billing_token["guid"]}, headers=analyst
    )
    assert (await response.json())["status"] == "not_found"
    await _verify(client, billing_token["guid"], times=2)
    await _flush(client)
    hidden = await client.get(f"{TOKENS}/{billing_token['id']}/usage", headers=analyst)
    await problem(hidden, 404)
    assert (await _usage(client, billing_token["id"]))["totals"]["uses"] == 2
    seen = await _summary(client, analyst)
    assert [item["token_id"] for item in seen["items"]] == [ops_token["id"]]
    assert seen["total"] == 1
    # A deleted token's buckets stay until they expire, but no answer shows them.
    await client.delete(f"{TOKENS}/{billing_token['id']}", headers=ADMIN)
    gone = await client.get(f"{TOKENS}/{billing_token['id']}/usage", headers=ADMIN)
    await problem(gone, 404)
    assert [i["token_id"] for i in (await _summary(client))["items"]] == [ops_token["id"]]


async def test_the_summary_sorts_pages_and_includes_unused_tokens(client: Client) -> None:
    await client.post("/api/v1/scopes", json={"name": "ops"}, headers=ADMIN)
    tokens = [await _token(client, name=f"T{n}") for n in range(5)]
    ids = [t["id"] for t in tokens]
    counter = client.app[REPOSITORY].usage_counts
    at = now()
    # uses: 3, 1, 3, 0, 0; refused: 0, 2, 1, 0, 0 (T3, T4 unused).
    for token_id, uses, refused in zip(ids, (3, 1, 3, 0, 0), (0, 2, 1, 0, 0), strict=True):
        for _ in range(uses):
            counter.count(token_id, "uses", at)
        for _ in range(refused):
            counter.count(token_id, "missing_scopes", at)
    await _flush(client)
    a, b, c, d, e = ids
    orders = {
        "-uses": [a, c, b, d, e],
        "uses": [d, e, b, a, c],
        "-refused": [b, c, a, d, e],
        "refused": [a, d, e, c, b],
    }
    for sort, expected in orders.items():
        got = await _summary(client, sort=sort, limit="200")
        assert [i["token_id"] for i in got["items"]] == expected, sort
        assert got["total"] == 5
    page = await _summary(client, sort="-uses", limit="2", offset="1")
    assert [i["token_id"] for i in page["items"]] == [c, b]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    unused = (await _summary(client, sort="uses", limit="1"))["items"][0]
    assert unused | {"last_used_at": None} == {
        "token_id": d, "name": "T3", "uses": 0, "refused": 0, "refusals": ZERO,
        "last_used_at": None, "daily": None,
    }  # fmt: skip
    sparkline = await _summary(client, series="day", limit="1")
    (first,) = sparkline["items"]
    assert len(first["daily"]) == 15 and first["daily"][-1]["uses"] == 3
    assert sparkline["from"].endswith("T00:00:00.000Z")


@pytest.fixture
async def lists(aiohttp_client: AiohttpClient, settings: Settings) -> list[Client]:
    """A server that lists from memory, then one that lists from the database."""
    made = [
        await aiohttp_client(create_app(replace(settings, list_memory_tokens=size)))
        for size in (100_000, 0)
    ]
    memory = made[0].app[REPOSITORY].lists
    await eventually(lambda: memory.answers, "lists answer from memory")
    return made


async def test_refused_within_lists_tokens_refused_lately_from_memory_and_database(
    lists: list[Client], raw_db: RawDb
) -> None:
    memory, database = lists
    await memory.post("/api/v1/scopes", json={"name": "ops"}, headers=ADMIN)
    refused = await _token(memory, name="Refused")
    long_ago = await _token(memory, name="Long ago")
    quiet = await _token(memory, name="Quiet")
    await memory.post(f"{TOKENS}/{refused['id']}/revoke", headers=ADMIN)
    await _verify(database, refused["guid"])
    await _verify(memory, quiet["guid"])  # a use is no refusal
    await _flush(memory, database)
    await set_raw(memory, raw_db, long_ago["id"], last_refused_at=now() - timedelta(days=10))
    lists_memory = memory.app[REPOSITORY].lists
    await eventually(
        lambda: lists_memory.rows()[refused["id"]].last_refused_at is not None,
        "the list memory holds the refusal",
    )
    for days, names in ((1, ["Refused"]), (30, ["Long ago", "Refused"]), (0, [])):
        answers = []
        for client in (memory, database):
            response = await client.get(TOKENS, params={"refused_within": str(days)}, headers=ADMIN)
            assert response.status == 200
            answers.append(await response.read())
            assert [t["name"] for t in (await response.json())["items"]] == names, days
        assert answers[0] == answers[1]


async def test_a_flush_of_many_documents_goes_in_chunks_and_keeps_only_what_failed(
    client: Client, raw_db: RawDb
) -> None:
    counter = client.app[REPOSITORY].usage_counts
    day = datetime(2026, 11, 20, tzinfo=UTC)
    ids = [str(ObjectId()) for _ in range(2 * CHUNK + 10)]
    for token_id in ids:
        counter.count(token_id, "uses", day + timedelta(hours=5))
    # One document of the second chunk cannot be added to.
    poisoned = {"token_id": ObjectId(ids[CHUNK + 7]), "day": day}
    raw_db["usage_hours"].insert_one(poisoned | {"h": "not a document"})
    with pytest.raises(DomainError):
        await counter.flush()
    assert raw_db["usage_hours"].count_documents({"h.5.uses": 1}) == len(ids) - 1
    assert raw_db["usage_days"].count_documents({"d.20.uses": 1}) == len(ids)
    raw_db["usage_hours"].delete_one(poisoned)
    assert await counter.flush() == 1
    assert raw_db["usage_hours"].count_documents({"h.5.uses": 1}) == len(ids)


async def test_the_summary_keeps_only_the_ids_asked_for_that_the_caller_sees(
    lists: list[Client],
) -> None:
    memory, database = lists
    for scope in ("ops", "billing"):
        await memory.post("/api/v1/scopes", json={"name": scope}, headers=ADMIN)
    ops = [await _token(memory, name=f"Ops {n}") for n in range(3)]
    billing = await _token(memory, name="Billing", scopes=["billing"])
    made = await memory.post(
        "/api/v1/users", json={"name": "analyst", "scopes": ["ops"]}, headers=ADMIN
    )
    analyst = {"Authorization": f"Bearer {(await made.json())['api_key']}"}
    await _verify(memory, ops[2]["guid"], times=2)
    await _flush(memory)
    asked = [ops[0]["id"], ops[2]["id"], billing["id"], str(ObjectId())]
    for client in (memory, database):  # from the list memory and from the database
        admin = await _summary(client, ids=asked, series="day")
        assert [i["token_id"] for i in admin["items"]] == [
            ops[2]["id"],
            ops[0]["id"],
            billing["id"],
        ]
        assert admin["total"] == 3 and admin["items"][0]["uses"] == 2
        assert len(admin["items"][0]["daily"]) == 15
        # A token the caller does not see is simply absent, as one that does not exist.
        seen = await _summary(client, analyst, ids=asked)
        assert [i["token_id"] for i in seen["items"]] == [ops[2]["id"], ops[0]["id"]]
        assert seen["total"] == 2


@pytest.mark.parametrize(
    ("ids", "field"),
    [
        (["not-an-id"], "ids.0"),
        ([str(ObjectId()), str(ObjectId()).upper()], "ids.1"),
        ([str(ObjectId()) for _ in range(201)], "ids"),
    ],
)
async def test_ids_that_are_no_token_ids_or_too_many_are_422_naming_the_field(
    client: Client, ids: list[str], field: str
) -> None:
    response = await client.get("/api/v1/usage", params=[("ids", i) for i in ids], headers=ADMIN)
    await problem(response, 422, field)
