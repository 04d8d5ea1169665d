"""/api/v1/events: the history of everything the caller may see."""

from __future__ import annotations

from aiohttp import web

from tokens_server.http.operations import Call
from tokens_server.http.schemas import EventOut, EventPageOut, EventsQuery
from tokens_server.http.state import REPOSITORY
from tokens_server.services.events import EventService


async def list_events(call: Call[EventsQuery]) -> web.Response:
    service = EventService(call.request.app[REPOSITORY])
    page = await service.events(call.caller, call.input.after, call.input.limit)
    items = [EventOut.of(event) for event in page.items]
    return call.reply(EventPageOut(items=items, next=items[-1].id if items else call.input.after))
