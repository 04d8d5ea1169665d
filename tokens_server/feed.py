"""The live feed: one change stream on the events per process, fanned out to every subscriber.

A subscriber is an open ``/events/stream`` request. Each has a bounded queue; one that falls
behind is ended (``Ended.BEHIND``) and its queue dropped, so memory stays bounded however slow
a reader is. It reconnects with the last id it got and catches up from the collection.

The stream runs while it is healthy. When it fails, every subscription ends
(``Ended.RESTARTING``): an event committed while no stream watched would otherwise be missed.
Subscribers reconnect, and the next subscription opens a new stream before it catches up from
the collection, so nothing committed in between is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from .errors import DomainError, Overloaded
from .models import Event
from .repository.events import EventStore, NewEvents
from .state import FEED, REPOSITORY, SETTINGS

log = logging.getLogger(__name__)

# Events a subscriber may have waiting; past it the subscriber has fallen behind.
QUEUE_LIMIT = 1000
RETRY_AFTER_S = 1


class Ended(enum.Enum):
    BEHIND = "behind"
    RESTARTING = "restarting"
    SHUTDOWN = "shutdown"


class Subscription:
    """What one subscriber receives: events in commit order, then perhaps why it ended."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Event | Ended] = asyncio.Queue()
        self.ended: Ended | None = None

    async def next(self) -> Event | Ended:
        return await self._queue.get()

    def offer(self, event: Event) -> None:
        if self.ended is not None:
            return
        if self._queue.qsize() >= QUEUE_LIMIT:
            self.end(Ended.BEHIND)
        else:
            self._queue.put_nowait(event)

    def end(self, why: Ended) -> None:
        if self.ended is None:
            self.ended = why
            # What is waiting is dropped: the subscriber catches up from the collection.
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(why)


class EventFeed:
    def __init__(self, events: EventStore, max_subscribers: int) -> None:
        self._events = events
        self._max_subscribers = max_subscribers
        self._subscriptions: set[Subscription] = set()
        self._watching: asyncio.Task[None] | None = None
        # Whether a stream is watching now; cleared at once when it fails, so that no
        # subscription joins a stream that will never deliver.
        self._live = False
        self._opening = asyncio.Lock()

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    async def subscribe(self) -> Subscription:
        """A new subscription, which gets every event committed from now on. Unavailable when
        the stream cannot be opened; Overloaded at the subscriber bound."""
        if len(self._subscriptions) >= self._max_subscribers:
            raise Overloaded(
                f"the server feeds its limit of {self._max_subscribers} streams; try again shortly",
                RETRY_AFTER_S,
            )
        async with self._opening:
            if not self._live:
                stream = await self._events.open_stream()
                self._watching = asyncio.create_task(self._watch(stream))
                self._live = True
            subscription = Subscription()
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    async def close(self) -> None:
        """End every subscription and stop watching: the server is shutting down."""
        self._live = False
        self._end_all(Ended.SHUTDOWN)
        if self._watching is not None:
            self._watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watching

    async def _watch(self, stream: NewEvents) -> None:
        try:
            while True:
                event = await stream.next()
                if event is not None:
                    for subscription in list(self._subscriptions):
                        subscription.offer(event)
        except Exception as error:
            # Whatever failed, no subscriber may wait on a stream that no longer delivers.
            if not self._live:
                pass  # closing: the stream was stopped on purpose
            elif isinstance(error, DomainError):
                log.warning("the event stream failed (%s); subscribers will reconnect", error)
            else:
                log.exception("the event stream failed; subscribers will reconnect")
            self._live = False
            self._end_all(Ended.RESTARTING)
        finally:
            with contextlib.suppress(DomainError):
                await stream.close()

    def _end_all(self, why: Ended) -> None:
        for subscription in self._subscriptions:
            subscription.end(why)
        self._subscriptions.clear()


async def event_feed(app: web.Application) -> AsyncIterator[None]:
    """The app's feed, made once the repository is open. Streams end when shutdown begins, as
    the server waits for open requests to finish before it closes."""
    feed = EventFeed(app[REPOSITORY].events, app[SETTINGS].max_subscribers)
    app[FEED] = feed

    async def end_streams(_: web.Application) -> None:
        await feed.close()

    app.on_shutdown.append(end_streams)
    yield
    await feed.close()
