"""The live stream: each event the caller may see, as it commits, over Server-Sent Events;
resuming after an id misses nothing and repeats nothing; a reader whose key stops working is
cut off, one whose scopes change is filtered anew; a slow reader is told and let go."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.event_reader import STREAM, WITHIN_S, Client, Reader, open_stream
from tests.server_process import ServerProcess
from tests.support import ADMIN, ADMIN_KEY, AiohttpClient, problem
from tokens_server.app import create_app
from tokens_server.http.handlers import stream
from tokens_server.live import feed
from tokens_server.settings import Settings

TOKENS = "/api/v1/tokens"
MakeScope = Callable[..., Awaitable[str]]
MakeUser = Callable[..., Awaitable[dict[str, str]]]


async def _create(client: Client, name: str, scopes: list[str]) -> dict[str, Any]:
    response = await client.post(TOKENS, json={"name": name, "scopes": scopes}, headers=ADMIN)
    assert response.status == 201, await response.text()
    token: dict[str, Any] = await response.json()
    return token


async def test_a_change_reaches_an_open_stream_at_once(
    client: Client, make_scope: MakeScope
) -> None:
    await make_scope("ops")
    async with open_stream(client) as reader:
        started = time.monotonic()
        token = await _create(client, "Nightly", ["ops"])
        [message] = await reader.events(1)
        assert time.monotonic() - started < WITHIN_S
        assert reader.comments == ["live"]
    assert message.kind == "token.created" and message.data["token_id"] == token["id"]
    assert message.id == message.data["id"]
    assert message.data["changes"]["name"] == {"from": None, "to": "Nightly"}
    assert token["guid"] not in json.dumps(message.data)


async def test_resuming_after_an_id_misses_nothing_and_repeats_nothing(
    client: Client, make_scope: MakeScope
) -> None:
    await make_scope("ops")
    token = await _create(client, "T0", ["ops"])
    url = f"{TOKENS}/{token['id']}"
    async with open_stream(client) as reader:
        renamed = await client.patch(url, json={"name": "T1"}, headers=ADMIN)
        assert renamed.status == 200
        [seen] = await reader.events(1)
    # Changes while no one listens, then a reader resumes after the last id it got.
    for name in ("T2", "T3"):
        assert (await client.patch(url, json={"name": name}, headers=ADMIN)).status == 200
    resume = {**ADMIN, "Last-Event-ID": str(seen.id)}
    async with open_stream(client, resume, after=0) as reader:
        missed = await reader.events(2)
        assert (await client.patch(url, json={"name": "T4"}, headers=ADMIN)).status == 200
        live = await reader.events(1)
        await reader.nothing_more()
    names = [m.data["token_name"] for m in missed + live]
    assert names == ["T2", "T3", "T4"]
    ids = [m.id for m in missed + live]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert all(isinstance(i, int) and i > (seen.id or 0) for i in ids)


async def test_resuming_while_others_write_gets_each_event_once_in_order(
    client: Client, make_scope: MakeScope
) -> None:
    await make_scope("ops")
    start = (await (await client.get("/api/v1/events", headers=ADMIN)).json())["next"]

    async def write(n: int) -> None:
        await _create(client, f"W{n}", ["ops"])

    writers = asyncio.gather(*(write(n) for n in range(20)))
    # Connect while the writes commit: some are read back, some arrive live, none twice.
    await asyncio.sleep(0.02)
    async with open_stream(client, after=start) as reader:
        messages = await reader.events(20)
        await writers
        await reader.nothing_more()
    assert sorted(m.data["token_name"] for m in messages) == sorted(f"W{n}" for n in range(20))
    ids = [m.id for m in messages]
    assert ids == sorted(ids) and len(set(ids)) == 20


async def test_a_reader_sees_only_what_its_scopes_allow(
    client: Client, make_scope: MakeScope, make_user: MakeUser
) -> None:
    await make_scope("ops")
    await make_scope("finance")
    olga = await make_user("olga", ["ops"])
    async with open_stream(client, olga) as reader:
        await _create(client, "Ledger", ["finance"])
        await _create(client, "Nightly", ["ops"])
        await _create(client, "Shared", ["finance", "ops"])
        messages = await reader.events(2)
        await reader.nothing_more()
    assert [m.data["token_name"] for m in messages] == ["Nightly", "Shared"]


async def test_a_reader_whose_key_is_rotated_is_cut_off(
    client: Client, make_user: MakeUser
) -> None:
    olga = await make_user("olga", [])
    async with open_stream(client, olga) as reader:
        rotated = await client.post("/api/v1/users/olga/key", headers=ADMIN)
        assert rotated.status == 200
        started = time.monotonic()
        # Her own user.created may come first: committed just before the stream opened, it can
        # reach the feed just after. Nothing from the rotation on is sent, and the stream ends.
        heard = []
        while (message := await reader.next()) is not None:
            heard.append(message.kind)
        assert heard in ([], ["user.created"])
        assert time.monotonic() - started < WITHIN_S
    await problem(await client.get(STREAM, headers=olga), 401)


async def test_a_reader_whose_scopes_change_is_filtered_anew(
    client: Client, make_scope: MakeScope, make_user: MakeUser
) -> None:
    await make_scope("ops")
    await make_scope("finance")
    olga = await make_user("olga", ["ops"])
    async with open_stream(client, olga) as reader:
        moved = await client.patch(
            "/api/v1/users/olga", json={"scopes": ["finance"]}, headers=ADMIN
        )
        assert moved.status == 200
        [about_her] = await reader.events(1)
        await _create(client, "Nightly", ["ops"])
        await _create(client, "Ledger", ["finance"])
        [seen] = await reader.events(1)
        await reader.nothing_more()
    assert about_her.kind == "user.updated" and about_her.data["user"] == "olga"
    assert seen.data["token_name"] == "Ledger"


async def test_a_reader_that_falls_behind_is_told_and_let_go(
    client: Client, make_scope: MakeScope, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_scope("ops")
    monkeypatch.setattr(feed, "QUEUE_LIMIT", 0)
    async with open_stream(client) as reader:
        await _create(client, "Nightly", ["ops"])
        last = await reader.next()
        assert last is not None and last.kind == "overflow" and last.id is None
        assert "Last-Event-ID" in last.data["detail"]
        assert await reader.next() is None


def test_a_subscription_holds_at_most_its_limit() -> None:
    subscription = feed.Subscription("a user id")
    event: Any = object()
    for _ in range(feed.QUEUE_LIMIT + 5):
        subscription.offer(event)
    assert subscription.ended is feed.Ended.BEHIND
    assert subscription._queue.qsize() == 1


async def test_an_idle_stream_hears_a_heartbeat(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "HEARTBEAT_S", 0.1)
    async with open_stream(client) as reader:
        await reader.nothing_more(within=0.35)
    assert reader.comments[0] == "live"
    assert reader.comments[1:3] == ["keep-alive", "keep-alive"]


async def test_bad_resume_points_and_too_many_readers_are_refused(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(replace(settings, max_subscribers=1)))
    bad = {**ADMIN, "Last-Event-ID": "x1"}
    await problem(await client.get(STREAM, headers=bad), 422, "Last-Event-ID")
    await problem(await client.get(STREAM, params={"after": "-3"}, headers=ADMIN), 422, "after")
    await problem(await client.get(STREAM), 401)
    async with open_stream(client):
        refused = await client.get(STREAM, headers=ADMIN)
        await problem(refused, 503)
        assert refused.headers["Retry-After"] == "1"


async def test_a_change_through_one_instance_reaches_readers_of_another(
    aiohttp_client: AiohttpClient, settings: Settings, make_scope: MakeScope, client: Client
) -> None:
    await make_scope("ops")
    other = await aiohttp_client(create_app(settings))
    async with open_stream(other) as reader:
        started = time.monotonic()
        await _create(client, "Nightly", ["ops"])
        [message] = await reader.events(1)
        assert time.monotonic() - started < WITHIN_S
    assert message.data["token_name"] == "Nightly"


async def test_two_server_processes_on_one_database_share_the_feed(
    settings: Settings, tmp_path: Path
) -> None:
    """The second process is given the first one's database: a change through either reaches
    the other's readers within a second; a reader that reconnects to the other process after a
    drop misses nothing."""
    assert settings.mongo_uri is not None and settings.secret_key is not None
    env = {
        "TOKENS_MONGO_URI": settings.mongo_uri,
        "TOKENS_DB_NAME": settings.db_name,
        "TOKENS_SECRET_KEY": settings.secret_key,
    }
    with (
        ServerProcess.start(tmp_path / "a", admin_key=ADMIN_KEY, env=env) as first,
        ServerProcess.start(tmp_path / "b", admin_key=ADMIN_KEY, env=env) as second,
    ):
        async with aiohttp.ClientSession(headers=ADMIN) as session:
            await _across(session, first.url, second.url)


async def _across(session: aiohttp.ClientSession, first: str, second: str) -> None:
    made = await session.post(f"{first}/api/v1/scopes", json={"name": "ops"})
    assert made.status == 201
    async with session.get(f"{second}{STREAM}") as response:
        reader = Reader(response)
        started = time.monotonic()
        body = {"name": "Nightly", "scopes": ["ops"]}
        created = await session.post(f"{first}{TOKENS}", json=body)
        assert created.status == 201
        [message] = await reader.events(1)
        assert time.monotonic() - started < WITHIN_S
    assert message.kind == "token.created"
    token = await created.json()
    url = f"{second}{TOKENS}/{token['id']}"
    for name in ("Renamed once", "Renamed twice"):
        assert (await session.patch(url, json={"name": name})).status == 200
    resume = {"Last-Event-ID": str(message.id)}
    async with session.get(f"{first}{STREAM}", headers=resume) as response:
        missed = await Reader(response).events(2)
    assert [m.data["token_name"] for m in missed] == ["Renamed once", "Renamed twice"]
