"""The process's change stream, read from start to shutdown (``storage.changes``): each new
event goes to every subscriber, each write to tokens and users makes memory forget its copy.

A subscriber is an open ``/events/stream`` request. Each has a bounded queue; one that falls
behind is ended (``Ended.BEHIND``) and its queue dropped, so memory stays bounded however slow
a reader is. It reconnects with the last id it got and catches up from the collection. The
subscribers are bounded twice: per process, and per user, so that one user (or one client
reconnecting in a loop) cannot take every slot.

When the stream fails, every subscription ends (``Ended.RESTARTING``) and memory is dropped:
an event or a write committed while no stream watched would otherwise be missed. The stream is
opened again; subscribers reconnect, and a subscription waits for an open stream before it
catches up from the collection, so nothing committed in between is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging

from tokens_server.domain.errors import DomainError, Overloaded, TooManyStreams, Unavailable
from tokens_server.domain.models import Event
from tokens_server.live.list_keeper import ListKeeper
from tokens_server.storage import Repository
from tokens_server.storage.changes import Changed, Changes, open_changes

log = logging.getLogger(__name__)

# Events a subscriber may have waiting; past it the subscriber has fallen behind.
QUEUE_LIMIT = 1000
RETRY_AFTER_S = 1
# The pause before opening a failed change stream again, doubled at each failure in a row.
REOPEN_MIN_S = 0.25
REOPEN_MAX_S = 5.0
CLOSE_WITHIN_S = 3.0


class Ended(enum.Enum):
    BEHIND = "behind"
    RESTARTING = "restarting"
    SHUTDOWN = "shutdown"


class Subscription:
    """What one subscriber receives: events in commit order, then perhaps why it ended."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id  # whose stream it is: each user may hold a few
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
    """Reads the process's change stream from start to shutdown: new events to the subscribers,
    every write to tokens, users and scopes to ``memory``. A stream that fails is opened again,
    after a pause that doubles up to ``REOPEN_MAX_S``."""

    def __init__(self, repo: Repository, max_subscribers: int, max_per_user: int) -> None:
        self._repo = repo
        self._memory = repo.memory
        self._lists = repo.lists
        self._keeper = ListKeeper(repo)
        self._max_subscribers = max_subscribers
        self._max_per_user = max_per_user
        self._subscriptions: set[Subscription] = set()
        self._watching: asyncio.Task[None] | None = None
        self._keeping: asyncio.Task[None] | None = None
        # Whether a stream is watching now; cleared at once when it fails, so that no
        # subscription joins a stream that will never deliver.
        self._live = False
        self._closing = False
        self._opening = asyncio.Lock()

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    def start(self) -> None:
        self._keeping = asyncio.create_task(self._keep_watching())

    async def subscribe(self, user_id: str) -> Subscription:
        """A new subscription of the user ``user_id``, which gets every event committed from
        now on. Unavailable when the stream cannot be opened; TooManyStreams at the user's
        bound; Overloaded at the subscriber bound."""
        await self._open()
        # Counted after the wait to open, so that subscribers arriving together cannot all pass.
        held = sum(1 for subscription in self._subscriptions if subscription.user_id == user_id)
        if held >= self._max_per_user:
            raise TooManyStreams(
                f"you have {held} streams open here, as many as one user may; end one, or try "
                "again shortly",
                RETRY_AFTER_S,
            )
        if len(self._subscriptions) >= self._max_subscribers:
            raise Overloaded(
                f"the server feeds its limit of {self._max_subscribers} streams; try again shortly",
                RETRY_AFTER_S,
            )
        subscription = Subscription(user_id)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    async def close(self) -> None:
        """End every subscription and stop watching: the server is shutting down."""
        self._closing = True
        self._live = False
        self._end_all(Ended.SHUTDOWN)
        tasks = [task for task in (self._keeping, self._watching) if task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            # The driver may finish a read under way before it gives in to the cancel (measured:
            # a shutdown that waited forever); the loops also stop on _closing, after at most
            # one wait of the stream.
            await asyncio.wait(tasks, timeout=CLOSE_WITHIN_S)
        await self._keeper.close(CLOSE_WITHIN_S)
        self._memory.lost()

    async def _open(self) -> None:
        async with self._opening:
            if self._closing:
                raise Unavailable("the server is shutting down")
            if not self._live:
                changes = await open_changes(self._repo.db)
                self._watching = asyncio.create_task(self._watch(changes))
                self._live = True
                self._keeper.opened()

    async def _keep_watching(self) -> None:
        pause = REOPEN_MIN_S
        while not self._closing:
            try:
                await self._open()
                assert self._watching is not None
                await asyncio.shield(self._watching)
                pause = REOPEN_MIN_S
            except DomainError as error:
                if self._closing:
                    return
                if pause == REOPEN_MIN_S:
                    log.warning("the change stream cannot be opened (%s); trying again", error)
            except Exception:
                log.exception("the change stream cannot be opened; trying again")
            if self._closing:  # the stream ended because the server closes: no reopening
                return
            await asyncio.sleep(pause)
            pause = min(2 * pause, REOPEN_MAX_S)

    async def _watch(self, changes: Changes) -> None:
        try:
            while not self._closing:
                change = await changes.next()
                if isinstance(change, Event):
                    self._lists.saw_event(change.id)
                    for subscription in list(self._subscriptions):
                        subscription.offer(change)
                elif isinstance(change, Changed):
                    self._forget(change)
                self._memory.heard()
        except Exception as error:
            # Whatever failed, no subscriber may wait on a stream that no longer delivers, and
            # no copy in memory may outlive a change that no stream reports.
            if not self._live:
                pass  # closing: the stream was stopped on purpose
            elif isinstance(error, DomainError):
                log.warning("the change stream failed (%s); subscribers will reconnect", error)
            else:
                log.exception("the change stream failed; subscribers will reconnect")
            self._live = False
            self._memory.lost()
            self._keeper.lost("the change stream failed; opening it again")
            self._end_all(Ended.RESTARTING)
        finally:
            # Bounded: a stream cancelled mid-read may leave its connection waiting on the
            # database, and a shutdown must not wait on it.
            with contextlib.suppress(DomainError, TimeoutError):
                async with asyncio.timeout(CLOSE_WITHIN_S):
                    await changes.close()

    def _forget(self, change: Changed) -> None:
        if change.id is None:
            self._memory.lost()  # a collection dropped or renamed: forget everything
            self._keeper.opened()
        elif change.collection == "tokens":
            self._lists.changed(change.id, change.used_at)
            if change.used_at is not None:
                self._memory.take_use(change.id, change.used_at)
            else:
                self._memory.forget_token(change.id)
        elif change.collection == "users":
            self._memory.forget_user(change.id)
        else:
            self._memory.forget_scopes()

    def _end_all(self, why: Ended) -> None:
        for subscription in self._subscriptions:
            subscription.end(why)
        self._subscriptions.clear()
