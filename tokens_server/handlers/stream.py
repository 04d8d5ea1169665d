"""/api/v1/events/stream: the events the caller may see, as Server-Sent Events, as they commit.

A reader that reconnects with ``Last-Event-ID`` (or ``?after=``) gets every event after that id:
the subscription starts before the catch-up from the collection, so an event that commits
meanwhile is both read and queued, and the id decides which copy is sent. Ids follow commit
order, so nothing is missed and nothing repeated.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from ..auth import current_caller
from ..feed import Ended, Subscription
from ..limits import HEARTBEAT_S, PAGE_SIZE_MAX
from ..models import USER_CHANGES, Caller, Event
from ..operations import Call
from ..parsing import last_event_id
from ..schemas import EventOut, StreamQuery, dump
from ..state import FEED, REPOSITORY


async def event_stream(call: Call[StreamQuery]) -> web.StreamResponse:
    request = call.request
    after = last_event_id(request)
    if after is None:
        after = call.input.after
    feed = request.app[FEED]
    subscription = await feed.subscribe()
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
    )
    try:
        await response.prepare(request)
        await response.write(b": live\n\n")
        last = after if after is None else await _catch_up(response, request, call.caller, after)
        await _relay(response, request, call.caller, subscription, last)
    except ConnectionError:
        pass  # the reader went away
    finally:
        feed.unsubscribe(subscription)
    return response


async def _catch_up(
    response: web.StreamResponse, request: web.Request, caller: Caller, after: int
) -> int:
    """Send the stored events after ``after``; answer the last id sent."""
    events = request.app[REPOSITORY].events
    while True:
        page = await events.after(caller, after, PAGE_SIZE_MAX)
        for event in page.items:
            await _send(response, event)
            after = event.id
        if not page.more:
            return after


async def _relay(
    response: web.StreamResponse,
    request: web.Request,
    caller: Caller,
    subscription: Subscription,
    last: int | None,
) -> None:
    while True:
        try:
            item = await asyncio.wait_for(subscription.next(), HEARTBEAT_S)
        except TimeoutError:
            await response.write(b": keep-alive\n\n")
            continue
        if isinstance(item, Ended):
            if item is Ended.BEHIND:
                detail = "this reader fell behind; reconnect with Last-Event-ID to catch up"
                await response.write(_message("overflow", {"detail": detail}))
            return
        if last is not None and item.id <= last:
            continue  # sent already, while catching up
        if item.user_id == caller.user_id and item.action in USER_CHANGES:
            # The reader's own key or scopes may have changed: it reads on as who it is now.
            now = await current_caller(request)
            if now is None:
                return
            caller = now
        if caller.sees_event(item):
            await _send(response, item)
            last = item.id


async def _send(response: web.StreamResponse, event: Event) -> None:
    await response.write(_message(event.action, dump(EventOut.of(event)), event.id))


def _message(kind: str, data: object, event_id: int | None = None) -> bytes:
    lines = [] if event_id is None else [f"id: {event_id}"]
    lines += [f"event: {kind}", f"data: {json.dumps(data, separators=(',', ':'))}", "", ""]
    return "\n".join(lines).encode()
