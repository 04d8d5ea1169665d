"""Database faults under write load: the embedded database is killed five times mid-load, on a
machine whose cores are all busy (a quiet machine hid a lost acknowledged write).

Every write the API acknowledged must survive; the server brings its database back by itself;
while the database does not answer, requests get 503 problem+json instead of hanging.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId
from pymongo import MongoClient, WriteConcern

import tokens_server.storage.group_commit as group_commit_module
from tests.busy import busy_cores
from tests.support import (
    ADMIN,
    ADMIN_KEY,
    AiohttpClient,
    eventually,
    lists_settled,
    now,
    set_raw,
)
from tokens_server.app import create_app
from tokens_server.http.state import EMBEDDED_DB, REPOSITORY
from tokens_server.settings import Settings

# Each test runs its own database and kills, stops or starves it.
pytestmark = pytest.mark.slow

KILLS = 5
# Enough that, at a kill, some change is usually between its commit and its journal.
WRITERS = 12
# Far above the 1.5 s database timeout: a request slower than this has hung.
HANG = 10.0
# How long the port-holding test keeps the killed database's port.
HOLD_PORT_S = 5.0
# The database must serve again well within this after its port is free: the restart delay is
# capped at 2 s, and a start takes 1-3 s on a busy machine.
BACK_WITHIN_S = 20.0


@dataclass
class Acknowledged:
    """What the API said it stored: token id → the version and state it acknowledged last."""

    versions: dict[str, int] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    slowest: float = 0.0
    # Past this a request has hung: far above the database timeout it may wait out.
    hang: float = HANG

    def saw(self, status: int, seconds: float) -> None:
        self.statuses[status] += 1
        self.slowest = max(self.slowest, seconds)


async def _call(client: TestClient[Any, Any], acked: Acknowledged, method: str, url: str,
                **kwargs: Any) -> tuple[int, dict[str, Any]]:
    started = time.monotonic()
    async with asyncio.timeout(acked.hang):
        response = await client.request(method, url, headers=ADMIN, **kwargs)
        body = await response.json(content_type=None) if response.status != 204 else {}
    acked.saw(response.status, time.monotonic() - started)
    if response.status >= 500:
        assert response.status == 503, body
        assert response.content_type == "application/problem+json"
    return response.status, body


async def _writer(client: TestClient[Any, Any], acked: Acknowledged, n: int,
                  stop: asyncio.Event) -> None:
    i = 0
    while not stop.is_set():
        i += 1
        status, token = await _call(client, acked, "POST", "/api/v1/tokens",
                                    json={"name": f"load {n}-{i}", "scopes": ["load"]})
        if status != 201:
            await asyncio.sleep(0.05)
            continue
        acked.versions[token["id"]] = 1
        url = f"/api/v1/tokens/{token['id']}"
        status, patched = await _call(client, acked, "PATCH", url, json={"description": "patched"})
        if status == 200:
            acked.versions[token["id"]] = patched["version"]
        if i % 3 == 0:
            status, revoked = await _call(client, acked, "POST", f"{url}/revoke")
            if status == 200:
                acked.versions[token["id"]] = revoked["version"]
                acked.revoked.add(token["id"])


async def _wait_healthy(client: TestClient[Any, Any]) -> float:
    started = time.monotonic()
    while (await client.get("/api/v1/health")).status != 200:
        assert time.monotonic() - started < 60, "the database did not come back"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


@pytest.fixture
async def embedded_client(aiohttp_client: AiohttpClient, tmp_path: Path) -> TestClient[Any, Any]:
    # A list that waits on a stalled database gives up well within HANG.
    settings = Settings(data_dir=tmp_path, admin_key=ADMIN_KEY, secret_key="fault-test-secret",
                        list_timeout_ms=2000)
    return await aiohttp_client(create_app(settings))


@pytest.mark.parametrize("db_timeout_ms", [1500, 6000], ids=["default-timeout", "long-timeout"])
async def test_acknowledged_writes_survive_database_kills(
    aiohttp_client: AiohttpClient, tmp_path: Path, db_timeout_ms: int
) -> None:
    """With the long timeout the driver waits out each restart and retries there what the kill
    interrupted: that is when a commit lost with the old process was answered as stored (on the
    old code, lost writes in 3 of 6 rounds; none in 32 rounds with the default timeout)."""
    settings = Settings(data_dir=tmp_path, admin_key=ADMIN_KEY, secret_key="fault-test-secret",
                        db_timeout_ms=db_timeout_ms)
    client = await aiohttp_client(create_app(settings))
    database = client.app[EMBEDDED_DB]
    assert database is not None
    await client.post("/api/v1/scopes", json={"name": "load"}, headers=ADMIN)
    # A request makes several calls, each allowed the whole timeout.
    acked = Acknowledged(hang=HANG + 4 * db_timeout_ms / 1000)
    stop = asyncio.Event()
    recoveries = []
    with busy_cores():
        writers = [asyncio.create_task(_writer(client, acked, n, stop)) for n in range(WRITERS)]
        for _ in range(KILLS):
            await asyncio.sleep(0.5)
            pid = database.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            recoveries.append(await _wait_healthy(client))
            assert database.pid != pid
        stop.set()
        await asyncio.gather(*writers)

    for token_id, version in acked.versions.items():
        status, token = await _call(client, acked, "GET", f"/api/v1/tokens/{token_id}")
        assert status == 200, f"acknowledged token {token_id} is lost"
        assert token["version"] >= version
        if token_id in acked.revoked:
            assert token["status"] == "revoked"
    # Writes in flight at a kill are retried by the driver within its 1.5 s budget and mostly
    # succeed once the database is back; those that run out of time answer 503.
    assert acked.statuses[201] > 0
    assert set(acked.statuses) <= {200, 201, 409, 412, 503}
    await _each_stored_change_has_one_event(client, acked)
    # The list memory, loaded again after each kill, holds every token as stored.
    with MongoClient(database.uri, serverSelectionTimeoutMS=20_000, tz_aware=True) as raw:
        await lists_settled(client, raw[settings.db_name])
    print(f"\nacknowledged tokens {len(acked.versions)}, all found; {dict(acked.statuses)};"
          f" slowest request {acked.slowest:.2f} s; recovery after kill "
          f"{min(recoveries):.2f}-{max(recoveries):.2f} s")


async def test_a_change_lost_between_its_commit_and_its_journal_is_not_acknowledged(
    embedded_client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window that lost an acknowledged write under load, opened on purpose: the database
    acknowledges a transaction's commit before its journal holds it, and dies right then. The
    journaled write meant to cover the commit is retried by the driver on the restarted
    database, which never had the commit. The change must be answered as stored only if it is."""
    client = embedded_client
    database = client.app[EMBEDDED_DB]
    assert database is not None
    acked = Acknowledged()
    await client.post("/api/v1/scopes", json={"name": "ops"}, headers=ADMIN)
    status, token = await _call(client, acked, "POST", "/api/v1/tokens",
                                json={"name": "T", "scopes": ["ops"]})
    assert status == 201
    in_transaction = group_commit_module.in_transaction

    async def commit_then_die(collection: Any, change: Any) -> Any:
        result = await in_transaction(collection, change)
        pid = database.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await eventually(lambda: database.pid not in (None, pid) and not database.is_down(),
                         "the database restarted")
        return result

    monkeypatch.setattr(group_commit_module, "in_transaction", commit_then_die)
    url = f"/api/v1/tokens/{token['id']}"
    status, _ = await _call(client, acked, "PATCH", url, json={"description": "changed"})
    monkeypatch.undo()
    await _wait_healthy(client)
    _, stored = await _call(client, acked, "GET", url)
    # The kill usually takes the commit with it (503, nothing changed); if the journal happened
    # to hold it already, the change is answered and kept.
    assert (status, stored["version"], stored["description"]) in {
        (503, 1, ""),
        (200, 2, "changed"),
    }
    await _each_stored_change_has_one_event(client, acked)


async def test_a_bulk_request_cut_by_a_database_kill_leaves_each_id_done_or_untouched(
    embedded_client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database dies right after the second group of a bulk revoke commits: every id is
    then revoked with its one event, or untouched, and the same request sent again revokes
    the rest."""
    client = embedded_client
    database = client.app[EMBEDDED_DB]
    assert database is not None
    # A request of 150 changes, across a restart, on a busy machine: seconds, not a hang.
    acked = Acknowledged(hang=6 * HANG)
    await client.post("/api/v1/scopes", json={"name": "ops"}, headers=ADMIN)
    ids: list[str] = []
    # Ten at a time: fifty creates at once on a loaded machine outlast the database timeout.
    for start in range(0, 150, 10):
        bodies = [{"name": f"T{n}", "scopes": ["ops"]} for n in range(start, start + 10)]
        made = await asyncio.gather(
            *(_call(client, acked, "POST", "/api/v1/tokens", json=body) for body in bodies)
        )
        assert {status for status, _ in made} == {201}
        ids += [token["id"] for _, token in made]
    in_transaction = group_commit_module.in_transaction
    committed = 0

    async def die_after_the_second(collection: Any, change: Any) -> Any:
        nonlocal committed
        result = await in_transaction(collection, change)
        committed += 1
        if committed == 2:
            pid = database.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            await eventually(lambda: database.pid not in (None, pid) and not database.is_down(),
                             "the database restarted")
        return result

    monkeypatch.setattr(group_commit_module, "in_transaction", die_after_the_second)
    status, _ = await _call(client, acked, "POST", "/api/v1/tokens/bulk-revoke", json={"ids": ids})
    monkeypatch.undo()
    await _wait_healthy(client)
    assert status in (200, 503)

    async def revoked() -> set[str]:
        done = set()
        for token_id in ids:
            _, token = await _call(client, acked, "GET", f"/api/v1/tokens/{token_id}")
            assert token["version"] in (1, 2) and (token["version"] == 2) == (
                token["status"] == "revoked"
            )
            if token["status"] == "revoked":
                done.add(token_id)
        return done

    before = await revoked()
    assert before, "the first group was durable before the kill"
    await _each_stored_change_has_one_event(client, acked)
    status, again = await _call(client, acked, "POST", "/api/v1/tokens/bulk-revoke",
                                json={"ids": ids})
    assert status == 200
    assert [r["outcome"] for r in again["results"]] == [
        "conflict" if token_id in before else "revoked" for token_id in ids
    ]
    assert await revoked() == set(ids)
    await _each_stored_change_has_one_event(client, acked)


async def _each_stored_change_has_one_event(
    client: TestClient[Any, Any], acked: Acknowledged
) -> None:
    """The history holds exactly the changes the tokens show: for each token, one event per
    version it reached, none for a version it never reached, none for a token that is not."""
    versions: dict[str, list[int]] = {}
    after = 0
    while True:
        _, page = await _call(client, acked, "GET", f"/api/v1/events?after={after}&limit=200")
        for event in page["items"]:
            if event["token_id"] is not None:
                versions.setdefault(event["token_id"], []).append(event["version"])
        if not page["items"]:
            break
        after = page["next"]
    stored: dict[str, int] = {}
    offset = 0
    while True:
        _, page = await _call(client, acked, "GET", f"/api/v1/tokens?limit=200&offset={offset}")
        stored |= {token["id"]: token["version"] for token in page["items"]}
        offset += 200
        if offset >= page["total"]:
            break
    assert set(versions) == set(stored)
    for token_id, version in stored.items():
        assert versions[token_id] == list(range(1, version + 1)), token_id


async def test_a_hung_database_answers_503_without_hanging(
    embedded_client: TestClient[Any, Any],
) -> None:
    client = embedded_client
    database = client.app[EMBEDDED_DB]
    assert database is not None and database.pid is not None
    os.kill(database.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        async with asyncio.timeout(HANG):
            response = await client.get("/api/v1/tokens", headers=ADMIN)
            health = await client.get("/api/v1/health")
        took = time.monotonic() - started
    finally:
        os.kill(database.pid, signal.SIGCONT)
    assert response.status == 503
    assert response.content_type == "application/problem+json"
    assert (await response.json())["title"] == "Database unavailable"
    assert health.status == 503
    print(f"\n503 for a list and for health after {took:.2f} s together")
    await _wait_healthy(client)
    assert (await client.get("/api/v1/tokens", headers=ADMIN)).status == 200


async def test_memory_is_bypassed_while_the_change_stream_is_stalled_and_dropped_on_failure(
    embedded_client: TestClient[Any, Any],
) -> None:
    """A stalled stream can no longer tell of changes: verify asks the database (here 503, as
    it hangs), never a copy that may be stale. A failed stream drops every copy."""
    client = embedded_client
    database = client.app[EMBEDDED_DB]
    memory = client.app[REPOSITORY].memory
    assert database is not None and database.pid is not None
    assert (await client.post("/api/v1/scopes", json={"name": "ops"}, headers=ADMIN)).ok
    made = await client.post("/api/v1/tokens", json={"name": "T", "scopes": ["ops"]}, headers=ADMIN)
    token = await made.json()
    verify = {"json": {"guid": token["guid"]}, "headers": ADMIN}
    assert (await (await client.post("/api/v1/tokens/verify", **verify)).json())["valid"]
    assert memory.holds_token(token["id"])

    lists = client.app[REPOSITORY].lists
    await eventually(lambda: lists.answers, "lists answer from memory")
    os.kill(database.pid, signal.SIGSTOP)
    try:
        await eventually(lambda: not memory.trusted, "memory no longer trusts the stream")
        assert not lists.answers  # lists, too, go to the database (here 503, as it hangs)
        async with asyncio.timeout(HANG):
            stalled = await client.post("/api/v1/tokens/verify", **verify)
            listed = await client.get("/api/v1/tokens", headers=ADMIN)
    finally:
        os.kill(database.pid, signal.SIGCONT)
    assert (stalled.status, listed.status) == (503, 503)

    os.kill(database.pid, signal.SIGKILL)
    await _wait_healthy(client)
    assert not memory.holds_token(token["id"])
    answered = await client.post("/api/v1/tokens/verify", **verify)
    assert (await answered.json())["status"] == "active"


async def test_the_watchdog_tries_again_after_a_failed_restart(
    embedded_client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = embedded_client
    database = client.app[EMBEDDED_DB]
    assert database is not None and database.pid is not None
    restart = database.restart
    attempts = []

    async def failing_once() -> None:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise OSError("Resource temporarily unavailable")  # as a failed fork says
        await restart()

    monkeypatch.setattr(database, "restart", failing_once)
    os.kill(database.pid, signal.SIGKILL)
    await _wait_healthy(client)
    assert len(attempts) == 2
    assert (await client.get("/api/v1/tokens", headers=ADMIN)).status == 200


def _hold_port(port: int, within: float = 10.0) -> socket.socket:
    """Bind and listen on ``port`` as soon as the killed database has let go of it."""
    deadline = time.monotonic() + within
    while True:
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            holder.bind(("127.0.0.1", port))
            holder.listen()
            return holder
        except OSError:
            holder.close()
            assert time.monotonic() < deadline, f"port {port} never came free"
            time.sleep(0.005)  # the kill takes a moment; the watchdog needs far longer to restart


async def test_the_database_comes_back_on_its_port_after_the_port_was_held(
    embedded_client: TestClient[Any, Any],
) -> None:
    # A restart fails while another process holds the port; the watchdog must keep trying, on
    # that same port (the one the driver knows), for as long as it takes.
    client = embedded_client
    database = client.app[EMBEDDED_DB]
    assert database is not None and database.pid is not None and database.port is not None
    port, pid = database.port, database.pid
    os.kill(pid, signal.SIGKILL)
    holder = _hold_port(port)
    try:
        await asyncio.sleep(HOLD_PORT_S)
        assert (await client.get("/api/v1/health")).status == 503
    finally:
        holder.close()
    back_after = await _wait_healthy(client)
    assert database.port == port and database.pid not in (None, pid)
    assert (await client.get("/api/v1/tokens", headers=ADMIN)).status == 200
    print(f"\nport held {HOLD_PORT_S:.0f} s; serving again {back_after:.2f} s after its release")
    # Liveness, not speed: the restart delay is capped at a few seconds, so a wait this long
    # means the watchdog stopped trying (as it did after one failed restart).
    assert back_after < BACK_WITHIN_S


async def test_a_stream_ends_when_the_database_dies_and_resumes_without_loss(
    embedded_client: TestClient[Any, Any],
) -> None:
    client = embedded_client
    database = client.app[EMBEDDED_DB]
    assert database is not None and database.pid is not None
    await client.post("/api/v1/scopes", json={"name": "ops"}, headers=ADMIN)
    made = await client.post(
        "/api/v1/tokens", json={"name": "Before", "scopes": ["ops"]}, headers=ADMIN
    )
    token = await made.json()
    seen = (await (await client.get("/api/v1/events", headers=ADMIN)).json())["next"]
    stream = await client.get("/api/v1/events/stream", headers=ADMIN)
    assert await stream.content.readline() == b": live\n"
    os.kill(database.pid, signal.SIGKILL)
    # The feed's change stream fails, and its readers are let go rather than left waiting.
    async with asyncio.timeout(HANG):
        await stream.content.read()
    await _wait_healthy(client)
    url = f"/api/v1/tokens/{token['id']}"
    renamed = await client.patch(url, json={"name": "After"}, headers=ADMIN)
    assert renamed.status == 200
    resumed = await client.get(
        "/api/v1/events/stream", headers={**ADMIN, "Last-Event-ID": str(seen)}
    )
    async with asyncio.timeout(HANG):
        lines = [await resumed.content.readline() for _ in range(5)]
    resumed.close()
    assert lines[:2] == [b": live\n", b"\n"] and lines[3] == b"event: token.updated\n"
    assert b'"token_name":"After"' in lines[4]


async def test_memory_does_not_outlive_a_restart_of_the_database(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    """The database reports a change to the stream before its journal holds it, and dies: the
    restarted one lacks that change. A stream the driver resumed there skipped as many of its
    first changes, so memory kept answering a token revoked right after the restart as valid.
    (A long database timeout lets the driver wait out the restart and resume, as it does on any
    machine where the restart beats the timeout.)"""
    settings = Settings(data_dir=tmp_path, admin_key=ADMIN_KEY, secret_key="fault-test-secret",
                        db_timeout_ms=20_000)
    client = await aiohttp_client(create_app(settings))
    database = client.app[EMBEDDED_DB]
    assert database is not None
    await client.post("/api/v1/scopes", json={"name": "ops"}, headers=ADMIN)
    kept, changed = [
        await (await client.post("/api/v1/tokens", json={"name": name, "scopes": ["ops"]},
                                 headers=ADMIN)).json()
        for name in ("Kept", "Changed")
    ]
    for token in (kept, changed):
        assert await _verified(client, token["guid"]) == "active"  # now held in memory
    raw = MongoClient(database.uri, serverSelectionTimeoutMS=20_000, tz_aware=True)
    try:
        unjournaled = raw.get_database(settings.db_name, write_concern=WriteConcern(w=1, j=False))
        await set_raw(client, unjournaled, changed["id"], description="reported, not journaled")
        pid = database.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await eventually(lambda: database.pid not in (None, pid) and not database.is_down(),
                         "the database restarted")
        revoked = raw[settings.db_name]["tokens"].update_one(
            {"_id": ObjectId(kept["id"])}, {"$set": {"revoked_at": now()}}
        )
        assert revoked.modified_count == 1
    finally:
        raw.close()

    async def refused() -> bool:
        return await _verified(client, kept["guid"]) == "revoked"

    await eventually(refused, "verify answers the revoked token as revoked")
    with MongoClient(database.uri, serverSelectionTimeoutMS=20_000, tz_aware=True) as raw:
        await lists_settled(client, raw[settings.db_name])


async def _verified(client: TestClient[Any, Any], guid: str) -> str:
    answer = await client.post("/api/v1/tokens/verify", json={"guid": guid}, headers=ADMIN)
    assert answer.status == 200, await answer.text()
    status: str = (await answer.json())["status"]
    return status
