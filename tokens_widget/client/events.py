"""``TokensClient``'s calls on what happened: a token's history, the events since a point, and
the live change feed."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

from ..limits import PAGE_SIZE_MAX
from ..live_events import ConnectionListener, follow
from ..models import Event, EventPage
from .calls import Calls, path_segment


class EventCalls(Calls):
    """History and change-feed operations of ``TokensClient``."""

    async def history(
        self, token_id: str, *, before: int | None = None, limit: int | None = None
    ) -> EventPage:
        """One page of the token's history, newest first; ``next`` is the ``before`` of the
        older events (None when there are none). A 404 when the caller cannot see the token."""
        params: list[tuple[str, str]] = []
        if before is not None:
            params.append(("before", str(before)))
        if limit is not None:
            params.append(("limit", str(limit)))
        path = f"/tokens/{path_segment(token_id)}/history"
        return EventPage.model_validate(await self._call("GET", path, params=params))

    async def iter_history(
        self, token_id: str, *, page_size: int = PAGE_SIZE_MAX
    ) -> AsyncIterator[Event]:
        """Every event of the token, newest first, fetched page by page."""
        before: int | None = None
        while True:
            page = await self.history(token_id, before=before, limit=page_size)
            for event in page.items:
                yield event
            if page.next is None or not page.items:
                return
            before = page.next

    def events(
        self, after: int | None = None, *, on_connection: ConnectionListener | None = None
    ) -> AsyncGenerator[Event, None]:
        """The change feed: every event the caller may see, as it happens, for as long as it runs.

        ``after`` is the last event id already seen (None: from now on). It resumes by itself
        after a dropped connection, never yielding an event twice; ``on_connection`` is told
        True when the feed is up and False while it is down. Raises ApiError when the server
        refuses the key (it was rotated or deleted). Stop it with ``aclose()`` or by
        cancelling the task that reads it.
        """
        return follow(self._connection, after, on_connection)

    async def list_events(self, *, after: int = 0, limit: int | None = None) -> EventPage:
        """The events the caller may see after event ``after``, oldest first; ``next`` is the
        ``after`` to ask with next (also when this page was empty)."""
        params = [("after", str(after))]
        if limit is not None:
            params.append(("limit", str(limit)))
        return EventPage.model_validate(await self._call("GET", "/events", params=params))
