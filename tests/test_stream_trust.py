"""What an open stream may not outlive: a reader's key rotated, its user deleted or its scopes
reduced while back-pressure holds its catch-up; and what it may not take: every stream slot
for one user, a slot kept by a reader that stopped reading or by a closed connection."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.event_reader import STREAM, Client, Reader, open_stream
from tests.support import ADMIN, AiohttpClient, note_if_undeclared, problem
from tokens_server.app import create_app
from tokens_server.domain.errors import Unavailable
from tokens_server.domain.limits import DESCRIPTION_MAX
from tokens_server.http.handlers import stream
from tokens_server.http.state import FEED
from tokens_server.serve import serving
from tokens_server.settings import Settings

# How long anything here may take on a loaded machine; no test waits for it unless it fails.
HANG_S = 20.0
POLL_S = 0.02
# Socket buffers of the held streams: the kernel grows them as it sees fit unless they are set.
SMALL_BUFFER = 4096
# The client's read buffer: a line of an event must fit in twice this.
READ_BUFFER = 8192
# Events of about 4 KB each (a description changed from one long text to another): with small
# buffers the server is held after a few dozen, and a page of catch-up is several times fewer.
EVENTS = 100
PAGE = 10


async def _until(condition: Callable[[], bool], what: str) -> None:
    """Polled: what is waited for is the server's state, which tells no one when it changes."""
    for _ in range(int(HANG_S / POLL_S)):
        if condition():
            return
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"not within {HANG_S} s: {what}")


def _small_socket(address: tuple[Any, ...]) -> socket.socket:
    family, kind, protocol, _, _ = address
    sock = socket.socket(family, kind, protocol)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
    return sock


class Held:
    """A server whose streams send through a small socket buffer, and a client that opens them
    with a small receive buffer: a reader that does not read holds the server's writes."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.streams: list[web.Request] = []
        self.client: Client

    async def prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        note_if_undeclared(request.match_info.route.name, response.status)
        if request.path == STREAM and response.status == 200:
            assert request.transport is not None
            sock = request.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
            self.streams.append(request)

    async def open(self, headers: dict[str, str], **params: Any) -> Reader:
        response = await self.session.get(
            self.client.make_url(STREAM), headers=headers, params=params
        )
        assert response.status == 200, await response.text()
        return Reader(response)

    async def held(self) -> None:
        """Until the server's last stream waits for its reader to read."""
        await _until(lambda: self.streams[-1].protocol.writing_paused, "the stream is held")


def _declaring(settings: Settings) -> web.Application:
    app = create_app(settings)

    async def check(request: web.Request, response: web.StreamResponse) -> None:
        note_if_undeclared(request.match_info.route.name, response.status)

    app.on_response_prepare.append(check)
    return app


@pytest.fixture
async def held(aiohttp_client: AiohttpClient, settings: Settings) -> AsyncIterator[Held]:
    app = create_app(settings)
    connector = aiohttp.TCPConnector(socket_factory=_small_socket)
    async with aiohttp.ClientSession(connector=connector, read_bufsize=READ_BUFFER) as session:
        served = Held(session)
        app.on_response_prepare.append(served.prepare)
        served.client = await aiohttp_client(app)
        yield served


async def _answer(client: Client, method: str, path: str, body: Any = None) -> Any:
    response = await client.request(method, path, json=body, headers=ADMIN)
    assert response.status in (200, 201, 204), await response.text()
    return None if response.status == 204 else await response.json()


async def _many_events(client: Client, scope: str) -> None:
    """EVENTS events of a token in ``scope``, each about 4 KB. Sent at once, so that the server
    commits them in groups: one after another they took 3.5 s. Each text differs from every
    other, so each change is a change, in whatever order they commit."""
    token = await _answer(client, "POST", "/api/v1/tokens", {"name": "Busy", "scopes": [scope]})
    path = f"/api/v1/tokens/{token['id']}"
    texts = [f"{n:03}".ljust(DESCRIPTION_MAX, "ab"[n % 2]) for n in range(EVENTS)]
    await asyncio.gather(*(_answer(client, "PATCH", path, {"description": t}) for t in texts))


# What the admin does to the reader, olga (scopes ops and finance), while her catch-up is held.
CHANGES = {
    "key rotated": ("POST", "/api/v1/users/olga/key", None),
    "user deleted": ("DELETE", "/api/v1/users/olga", None),
    "scope removed": ("PATCH", "/api/v1/users/olga", {"scopes": ["ops"]}),
}
RESUMES = {"Last-Event-ID": ({"Last-Event-ID": "0"}, {}), "after": ({}, {"after": 0})}


@pytest.mark.parametrize("resume", sorted(RESUMES))
@pytest.mark.parametrize("change", sorted(CHANGES))
async def test_a_change_to_the_reader_holds_while_its_catch_up_is_held(
    held: Held, change: str, resume: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Many small pages: the page being sent when the change commits is far from the last.
    monkeypatch.setattr(stream, "PAGE_SIZE_MAX", PAGE)
    # The reader is held on purpose, for as long as the test takes.
    monkeypatch.setattr(stream, "WRITE_TIMEOUT_S", 10 * HANG_S)
    client = held.client
    for scope in ("ops", "finance"):
        await _answer(client, "POST", "/api/v1/scopes", {"name": scope})
    made = await _answer(
        client, "POST", "/api/v1/users", {"name": "olga", "scopes": ["ops", "finance"]}
    )
    olga = {"Authorization": f"Bearer {made['api_key']}"}
    await _many_events(client, "ops")
    headers, params = RESUMES[resume]
    reader = await held.open({**olga, **headers}, **params)
    try:
        await held.held()
        await _answer(client, *CHANGES[change])
        # Committed after the change: olga saw both tokens as she was, and sees at most
        # Nightly as she is now.
        for name, scopes in (("Ledger", ["finance"]), ("Nightly", ["ops"])):
            await _answer(client, "POST", "/api/v1/tokens", {"name": name, "scopes": scopes})
        forbidden = {"Ledger"} if change == "scope removed" else {"Ledger", "Nightly"}
        while (message := await reader.next(HANG_S)) is not None:
            assert message.data.get("token_name") not in forbidden, message
            if message.data.get("token_name") == "Nightly":
                break
        if change == "scope removed":
            assert message is not None, "the reader reads on with the scope it kept"
        else:
            assert message is None, "the stream ends"
    finally:
        reader.response.close()


async def test_a_reader_whose_key_stops_working_unannounced_is_cut_off_at_a_heartbeat(
    client: Client,
    make_user: Callable[..., Any],
    raw_db: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stream, "HEARTBEAT_S", 0.2)
    olga = await make_user("olga", [])
    async with open_stream(client, olga) as reader:
        # Behind the server's back: no event about olga tells the stream.
        assert raw_db["users"].delete_one({"name": "olga"}).deleted_count == 1
        assert await reader.next(HANG_S) is None


async def test_a_reader_who_cannot_be_asked_again_is_let_go(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "HEARTBEAT_S", 0.2)

    async def unavailable(*_: Any) -> None:
        raise Unavailable("the database did not answer in time")

    async with open_stream(client) as reader:
        monkeypatch.setattr(stream, "current_caller", unavailable)
        assert await reader.next(HANG_S) is None
    assert client.app[FEED].subscribers == 0


async def test_one_user_cannot_take_every_stream_slot(
    aiohttp_client: AiohttpClient, settings: Settings, make_user: Callable[..., Any]
) -> None:
    client = await aiohttp_client(
        _declaring(replace(settings, max_subscribers=5, max_streams_per_user=2))
    )
    olga = await make_user("olga", [])
    peter = await make_user("peter", [])
    async with open_stream(client, olga), open_stream(client, olga):
        refused = await client.get(STREAM, headers=olga)
        await problem(refused, 429)
        assert int(refused.headers["Retry-After"]) >= 1
        # The admin is held to the same limit, and the others still find a slot.
        async with open_stream(client, ADMIN), open_stream(client, ADMIN):
            await problem(await client.get(STREAM, headers=ADMIN), 429)
            async with open_stream(client, peter):
                pass


async def test_a_closed_stream_frees_its_slot_at_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not the heartbeat: its write would find the connection closed too, but much later.
    monkeypatch.setattr(stream, "HEARTBEAT_S", 3600)
    app = _declaring(settings)
    # Served as the command serves it: there a closed connection does not cancel the handler
    # (the test server's does).
    async with (
        serving(app, "127.0.0.1", 0, access_log=False) as addresses,
        aiohttp.ClientSession(headers=ADMIN) as session,
    ):
        feed = app[FEED]
        response = await session.get(f"http://127.0.0.1:{addresses[0][1]}{STREAM}")
        assert await response.content.readline() == b": live\n"
        assert feed.subscribers == 1
        response.close()
        await _until(lambda: feed.subscribers == 0, "the slot is free")


async def test_a_reader_that_stops_reading_is_let_go(
    held: Held, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "WRITE_TIMEOUT_S", 0.5)
    client = held.client
    await _answer(client, "POST", "/api/v1/scopes", {"name": "ops"})
    await _many_events(client, "ops")
    feed = client.app[FEED]
    reader = await held.open({**ADMIN, "Last-Event-ID": "0"})
    try:
        assert feed.subscribers == 1
        await _until(lambda: feed.subscribers == 0, "the slot is free")
    finally:
        reader.response.close()
