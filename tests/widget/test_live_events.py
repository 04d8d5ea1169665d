"""The change feed's reader: the event-stream format, and ``TokensClient.events()`` resuming
after drops and overflows against a scripted stand-in for ``GET /events/stream`` (the real
stream is covered in test_live_widget.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tokens_widget import ApiError, Event, TokensClient, live_events
from tokens_widget.sse import LineSplitter, Message, messages

# ---- the format -----------------------------------------------------------------------------


async def _read(*chunks: bytes) -> list[Message]:
    async def source() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    return [m async for m in messages(source())]


async def test_messages_follow_the_event_stream_format() -> None:
    read = await _read(
        b": connected\n\n",
        b'id: 1\nevent: token.created\ndata: {"a":\n',
        b"data:  1}\n\n",
        b"id: 2\r",
        b"\nevent: token.updated\r\ndata: x\r\rdata\n\n",
        b"id: 9\n\n",
        b"event: overflow\ndata: {}\n\n",
        b"id: 10\ndata: cut off by the end of the stream\n",
    )
    assert read == [
        Message("token.created", '{"a":\n 1}', "1"),
        Message("token.updated", "x", "2"),
        Message("message", "", None),
        Message("message", "", "9"),
        Message("overflow", "{}", None),
    ]


def test_a_line_split_between_cr_and_lf_is_one_line() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"one\r") == [b"one"]
    assert splitter.feed(b"\ntwo\r\n\r\n") == [b"two", b""]
    assert splitter.feed(b"\nthree") == [b""]
    assert splitter.feed(b"\n") == [b"three"]


# ---- the reader against a scripted server --------------------------------------------------


def event_json(event_id: int, action: str = "token.updated") -> dict[str, Any]:
    return {
        "id": event_id,
        "at": "2026-01-02T03:04:05Z",
        "actor": "bob",
        "action": action,
        "token_id": "t1",
        "token_name": "Nightly",
        "scopes": ["ops"],
        "version": event_id,
        "changes": {"name": {"from": "a", "to": "b"}},
        "user": None,
        "scope": None,
    }


def frame(event_id: int) -> bytes:
    data = json.dumps(event_json(event_id))
    return f"id: {event_id}\nevent: token.updated\ndata: {data}\n\n".encode()


Step = bytes | str  # bytes are sent; "drop", "end" and "hang" end the connection so


class ScriptedFeed:
    """Answers each connection with the next script; remembers each one's Last-Event-ID."""

    def __init__(self, *scripts: list[Step] | int) -> None:
        self.scripts = list(scripts)
        self.resumed_after: list[str | None] = []
        self.keys: list[str | None] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.resumed_after.append(request.headers.get("Last-Event-ID"))
        self.keys.append(request.headers.get("Authorization"))
        script = self.scripts.pop(0) if self.scripts else ["hang"]
        if isinstance(script, int):
            problem = {"type": "about:blank", "title": "Refused", "status": script}
            return web.json_response(
                problem, status=script, content_type="application/problem+json"
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b": connected\n\n")
        for step in script:
            if isinstance(step, bytes):
                await response.write(step)
            elif step == "drop":
                assert request.transport is not None
                request.transport.close()
                return response
            elif step == "end":
                return response
            else:
                await asyncio.Event().wait()
        return response


Serve = Callable[[ScriptedFeed], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[TestServer] = []

    async def start(feed: ScriptedFeed) -> str:
        app = web.Application()
        app.router.add_get("/api/v1/events/stream", feed.handle)
        server = TestServer(app)
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    yield start
    for server in servers:
        await server.close()


async def take(client: TokensClient, count: int, **options: Any) -> list[Event]:
    taken: list[Event] = []
    feed = client.events(**options)
    async for event in feed:
        taken.append(event)
        if len(taken) == count:
            break
    await feed.aclose()
    return taken


async def test_a_dropped_stream_resumes_after_the_last_event_never_repeating_one(
    serve: Serve,
) -> None:
    feed = ScriptedFeed([frame(1), frame(2), "drop"], [frame(2), frame(3), "hang"])
    states: list[bool] = []
    async with TokensClient(await serve(feed), "key-1") as client:
        events = await asyncio.wait_for(take(client, 3, on_connection=states.append), 10)
    assert [e.id for e in events] == [1, 2, 3]
    assert events[0].changes["name"].to == "b" and events[0].actor == "bob"
    assert feed.resumed_after == [None, "2"]
    assert feed.keys == ["Bearer key-1", "Bearer key-1"]
    assert states == [True, False, True]


async def test_an_overflow_or_a_clean_end_resumes_too(serve: Serve) -> None:
    overflow = b'event: overflow\ndata: {"detail": "too slow"}\n\n'
    feed = ScriptedFeed([frame(5), overflow, "hang"], [frame(6), "end"], [frame(7), "hang"])
    async with TokensClient(await serve(feed), "key") as client:
        events = await asyncio.wait_for(take(client, 3), 10)
    assert [e.id for e in events] == [5, 6, 7]
    assert feed.resumed_after == [None, "5", "6"]


async def test_after_is_sent_as_last_event_id_and_an_id_alone_moves_the_cursor(
    serve: Serve,
) -> None:
    feed = ScriptedFeed([b"id: 40\n\n", "drop"], [frame(41), "hang"])
    async with TokensClient(await serve(feed), "key") as client:
        assert [e.id for e in await asyncio.wait_for(take(client, 1, after=7), 10)] == [41]
    assert feed.resumed_after == ["7", "40"]


async def test_server_errors_are_retried_with_a_growing_wait(serve: Serve) -> None:
    feed = ScriptedFeed(503, 503, [frame(1), "hang"])
    states: list[bool] = []
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with TokensClient(await serve(feed), "key") as client:
        events = await asyncio.wait_for(take(client, 1, on_connection=states.append), 10)
    assert [e.id for e in events] == [1]
    # Waited 0.25 s, then 0.5 s.
    assert loop.time() - started >= live_events.BACKOFF_FIRST * 3
    assert states == [False, True]


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_key_ends_the_feed_with_api_error(serve: Serve, status: int) -> None:
    feed = ScriptedFeed([frame(1), "drop"], status)
    states: list[bool] = []
    async with TokensClient(await serve(feed), "key") as client:
        with pytest.raises(ApiError) as refused:
            await asyncio.wait_for(take(client, 2, on_connection=states.append), 10)
    assert refused.value.status == status
    assert states == [True, False]


async def test_a_silent_connection_is_given_up_and_made_again(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_events, "FEED_SILENCE_MAX", 0.3)
    feed = ScriptedFeed([frame(1), "hang"], [frame(2), "hang"])
    async with TokensClient(await serve(feed), "key") as client:
        events = await asyncio.wait_for(take(client, 2), 10)
    assert [e.id for e in events] == [1, 2]
    assert feed.resumed_after == [None, "1"]


async def test_an_unreachable_server_is_retried_not_raised(serve: Serve) -> None:
    # A port nothing listens on: the feed keeps trying, and says it is down.
    feed = ScriptedFeed()
    url = await serve(feed)
    states: list[bool] = []
    async with TokensClient(url.replace(url.rsplit(":", 1)[1], "9"), "key") as client:
        reading = asyncio.ensure_future(take(client, 1, on_connection=states.append))
        await asyncio.sleep(0.6)
        assert not reading.done()
        reading.cancel()
    assert states == [False]
