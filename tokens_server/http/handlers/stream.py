"""/api/v1/events/stream: the events the caller may see, as Server-Sent Events, as they commit.

A reader that reconnects with ``Last-Event-ID`` (or ``?after=``) gets every event after that id,
and one that opens without gets those after the last one committed when it opened:
the subscription starts before the catch-up from the collection, so an event that commits
meanwhile is both read and queued, and the id decides which copy is sent. Ids follow commit
order, so nothing is missed and nothing repeated.

A stream outlives the request's authentication by hours, so who reads is asked again: each event
is filtered with a caller at most ``CALLER_MAX_AGE_S`` old, and the caller is asked at each
heartbeat, after the catch-up, and on every change to the reader's own user, also one the
catch-up sent already. A key that no longer authenticates ends the stream; other scopes filter
anew. A stream holds one of the feed's slots, so it ends when a write waits longer than
``WRITE_TIMEOUT_S`` (a reader that stopped reading) or when its connection closes.
"""

from __future__ import annotations

import asyncio
import json
import logging

from aiohttp import web

from tokens_server.domain.errors import StorageError, StorageFailed
from tokens_server.domain.limits import (
    CALLER_MAX_AGE_S,
    HEARTBEAT_S,
    PAGE_SIZE_MAX,
    WRITE_TIMEOUT_S,
)
from tokens_server.domain.models import USER_CHANGES, Caller, Event
from tokens_server.http.auth import current_caller
from tokens_server.http.operations import Call
from tokens_server.http.parsing import last_event_id
from tokens_server.http.schemas import EventOut, StreamQuery, dump
from tokens_server.http.state import FEED, REPOSITORY
from tokens_server.live.feed import Ended, Subscription

log = logging.getLogger(__name__)

# How often a waiting stream looks whether its reader hung up: aiohttp tells a handler that
# only when it writes, and the slot must not wait for the next heartbeat.
CLOSED_CHECK_S = 1.0


class _Gone(Exception):
    """The stream ends: its key no longer authenticates, or its reader does not read."""


async def event_stream(call: Call[StreamQuery]) -> web.StreamResponse:
    request = call.request
    after = last_event_id(request)
    if after is None:
        after = call.input.after
    feed = request.app[FEED]
    subscription = await feed.subscribe(call.caller.user_id)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
    )
    out = _Stream(request, response, call.caller)
    try:
        # Without an id, from now: the feed may still bring a change acknowledged before the
        # stream opened, and brings every later one (the subscription came first).
        last = after if after is not None else await request.app[REPOSITORY].events.last_id()
        await response.prepare(request)
        await out.write(b": live\n\n")
        if after is not None:
            last = await _catch_up(out, after)
            await out.caller(now=True)  # the catch-up may have taken long
        await _relay(out, subscription, last)
    except (ConnectionError, _Gone):
        pass  # the reader went away, or may read no more
    except StorageError as error:
        if not response.prepared:
            raise  # still a problem answer
        # Too late for a problem answer: the reader is let go, and catches up as it reconnects.
        if isinstance(error, StorageFailed):
            log.exception("an event stream failed on the database")
    finally:
        feed.unsubscribe(subscription)
    return response


async def _catch_up(out: _Stream, after: int) -> int:
    """Send the stored events after ``after``, each page read as the caller is now; answer the
    last id sent."""
    events = out.request.app[REPOSITORY].events
    while True:
        caller = await out.caller()
        page = await events.after(caller, after, PAGE_SIZE_MAX)
        for event in page.items:
            if await out.caller(event) != caller:
                break  # the reader changed: the rest is read again as who it is now
            await out.send(event)
            after = event.id
        else:
            if not page.more:
                return after


async def _relay(out: _Stream, subscription: Subscription, last: int) -> None:
    while True:
        item = await out.next(subscription)
        if isinstance(item, Ended):
            if item is Ended.BEHIND:
                detail = "this reader fell behind; reconnect with Last-Event-ID to catch up"
                await out.write(_message("overflow", {"detail": detail}))
            return
        # Asked before the skip: a change to the reader counts also when the catch-up sent it.
        caller = await out.caller(item)
        if item.id <= last:
            continue  # sent already while catching up, or committed before the stream opened
        if caller.sees_event(item):
            await out.send(item)
            last = item.id


class _Stream:
    """One open stream: who reads it, asked again as the module says; writes bounded in time;
    a heartbeat when nothing else was written for ``HEARTBEAT_S``."""

    def __init__(self, request: web.Request, response: web.StreamResponse, caller: Caller) -> None:
        self.request = request
        self._response = response
        self._caller = caller
        self._loop = asyncio.get_running_loop()
        self._asked_at = self._loop.time()
        self._beat_at = self._loop.time() + HEARTBEAT_S

    async def caller(self, event: Event | None = None, *, now: bool = False) -> Caller:
        """Who reads, asked again when ``now``, when the last answer is older than
        ``CALLER_MAX_AGE_S``, or when ``event`` changed the reader's own user; _Gone when the
        key no longer authenticates."""
        about_reader = (
            event is not None
            and event.action in USER_CHANGES
            and event.user_id == self._caller.user_id
        )
        if now or about_reader or self._loop.time() - self._asked_at >= CALLER_MAX_AGE_S:
            asked_at = self._loop.time()
            changed = self._caller.user_id if about_reader else None
            caller = await current_caller(self.request, changed)
            if caller is None:
                raise _Gone
            self._caller, self._asked_at = caller, asked_at
        return self._caller

    async def next(self, subscription: Subscription) -> Event | Ended:
        """The subscription's next item; meanwhile the heartbeat, and a look every
        ``CLOSED_CHECK_S`` whether the connection closed (ConnectionResetError)."""
        while True:
            if self._loop.time() >= self._beat_at:
                await self.caller(now=True)
                await self.write(b": keep-alive\n\n")
            wait = min(CLOSED_CHECK_S, self._beat_at - self._loop.time())
            try:
                return await asyncio.wait_for(subscription.next(), max(wait, 0))
            except TimeoutError:
                transport = self.request.transport
                if transport is None or transport.is_closing():
                    raise ConnectionResetError("the reader hung up") from None

    async def send(self, event: Event) -> None:
        await self.write(_message(event.action, dump(EventOut.of(event)), event.id))

    async def write(self, data: bytes) -> None:
        """Write, or end the stream when the reader does not take it in ``WRITE_TIMEOUT_S``."""
        try:
            async with asyncio.timeout(WRITE_TIMEOUT_S):
                await self._response.write(data)
        except TimeoutError:
            # The connection goes too: what waits in its buffers would never be read.
            transport = self.request.transport
            if transport is not None:
                transport.abort()
            raise _Gone from None
        self._beat_at = self._loop.time() + HEARTBEAT_S


def _message(kind: str, data: object, event_id: int | None = None) -> bytes:
    lines = [] if event_id is None else [f"id: {event_id}"]
    lines += [f"event: {kind}", f"data: {json.dumps(data, separators=(',', ':'))}", "", ""]
    return "\n".join(lines).encode()
