"""The history: each caller reads the events it may see (``Caller.sees_event``)."""

from __future__ import annotations

from dataclasses import dataclass

from tokens_server.domain.models import Caller, EventPage
from tokens_server.storage import Repository


@dataclass
class EventService:
    repo: Repository

    async def events(self, caller: Caller, after: int, limit: int) -> EventPage:
        return await self.repo.events.after(caller, after, limit)
