"""Group commit: changes that arrive while a commit is under way share the next one.

Each change commits in one transaction with its history event, and on the embedded database a
commit is durable only once a journaled write after it has waited for the journal
(``EventStore``). One change at a time, each paid a transaction, a turn at the event counter and
a journal wait of its own: about 30 changes a second per process, and 32 s for a bulk revoke of
500 tokens. So changes queue in arrival order while a group commits, and the next group takes as
many of them as fit its time (``GroupCommit.size``, at most ``GROUP_MAX``):

- one transaction runs each change's function in arrival order (a later change sees an earlier
  one's writes, as if they had run one after another), then the ledger writes the group's
  events in that same transaction;
- after the commit the ledger hears of it (memory forgets what changed) and confirms the whole
  group durable at once; only then is any change of the group answered.

A change may stand for many (a chunk of a bulk request, ``commit_many``): it leaves an event
for each thing it changed, and counts as that many in the group's size.

A change whose function refuses (raises anything but the database failing) must write nothing
and must not fail its neighbours. MongoDB has no savepoints, so the transaction is aborted, that
change keeps its refusal, and the group runs again without it. A conflict with another writer
(a transient transaction error) runs the whole group again, as ``with_transaction`` does. A
database failure fails every change of the group, and so does a group the ledger finds lost.
A change's function may therefore run more than once. A change whose caller gave up before its
group began is dropped; once its group began it commits, like a change whose answer was lost on
the way.

One runner task per process commits the groups in turn: every group writes the one event
counter, and two groups of one process taking it at once would only conflict.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import ConnectionFailure, PyMongoError

from tokens_server.storage.transactions import Session, in_transaction

T = TypeVar("T")
E = TypeVar("E")  # what a change leaves for the ledger: its event's draft
W = TypeVar("W")  # what the ledger wrote for one group

# The most changes one transaction runs; the journal wait a group shares is paid back long
# before this size.
GROUP_MAX = 50
# A group's transaction must end within the database timeout (1.5 s by default), retries
# included. What a change costs varies tenfold with the machine's load: on a busy two-core
# machine one token update took 20-40 ms inside a transaction (the embedded database rewrites
# every index entry of a document it updates), and a group of 32 timed out. So a group takes
# as many changes as the recent ones say fit in this share of the timeout.
_TIMEOUT_SHARE = 0.25
# How much the cost of a change, as the last group measured it, moves the estimate.
_WEIGHT = 0.5

# A change: given the group's session, its result and what it leaves for the ledger (None when
# it changed nothing).
Change = Callable[[Session], Awaitable[tuple[T, E | None]]]
# A change of many things at once (a chunk of a bulk request): its result and what each thing
# it changed leaves for the ledger.
ChangeMany = Callable[[Session], Awaitable[tuple[T, list[E]]]]


@dataclass(frozen=True)
class Ledger(Generic[E, W]):
    """What a group writes beside its changes, and how it is known durable."""

    # In the group's transaction, after its changes: record what they leave.
    write: Callable[[Session, list[E]], Awaitable[W]]
    # Once committed, before anything is answered.
    committed: Callable[[list[E]], None]
    # Return once the committed group is durable; raise if it was lost.
    confirm: Callable[[W], Awaitable[None]]


@dataclass(eq=False)
class _Waiting:
    change: ChangeMany[Any, Any]
    weight: int  # how many changes it stands for, as the group's size counts them
    answer: asyncio.Future[Any]


class _Refused(Exception):
    """One change's refusal, carried out of the group's transaction so that it aborts."""

    def __init__(self, waiting: _Waiting, error: Exception) -> None:
        super().__init__(error)
        self.waiting = waiting
        self.error = error


class OutOfTime(PyMongoError):
    """A group's transaction ran past the database timeout before it committed, and was
    aborted: none of its changes were made. (A timeout after the commit is not this one: the
    commit may have happened.)"""

    @property
    def timeout(self) -> bool:
        return True


def fails_the_group(error: Exception) -> bool:
    """Whether ``error`` is the database failing or another writer in the way, not a change
    refusing: it fails (or runs again) every change of the group."""
    if not isinstance(error, PyMongoError):
        return False
    return (
        isinstance(error, ConnectionFailure)
        or error.timeout
        or error.has_error_label("TransientTransactionError")
        or error.has_error_label("UnknownTransactionCommitResult")
    )


class GroupCommit(Generic[E, W]):
    def __init__(
        self, collection: AsyncCollection[Any], ledger: Ledger[E, W], most: int = GROUP_MAX
    ) -> None:
        self._collection = collection
        self._ledger = ledger
        self._most = most
        self._waiting: deque[_Waiting] = deque()
        self._runner: asyncio.Task[None] | None = None
        # Seconds one change has taken in a group's transaction, lately; 0 until measured.
        self._per_change = 0.0

    async def commit(self, change: Change[T, E]) -> T:
        """Run ``change`` in the next group; its result once the group is durable."""

        async def one(session: Session) -> tuple[T, list[E]]:
            result, draft = await change(session)
            return result, [] if draft is None else [draft]

        return await self.commit_many(one, 1)

    async def commit_many(self, change: ChangeMany[T, E], weight: int) -> T:
        """Run ``change``, which stands for ``weight`` changes (it leaves about as many drafts),
        in the next group; its result once the group is durable."""
        waiting = _Waiting(change, weight, asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        if self._runner is None or self._runner.done():
            # A context of its own: the runner must not keep the first caller's deadline
            # (``pymongo.timeout`` lives in a context variable) for every later group.
            self._runner = asyncio.create_task(self._run(), context=contextvars.Context())
        # A caller that gives up cancels its answer: a change whose group has not begun is
        # dropped; one whose group began commits all the same.
        result: T = await waiting.answer
        return result

    def size(self) -> int:
        """How many changes the next group takes at most: also how many a change of many
        should stand for, to fit a group's time alone."""
        timeout = self._collection.database.client.options.timeout
        if not timeout or not self._per_change:
            return self._most
        fits = int(timeout * _TIMEOUT_SHARE / self._per_change)
        return max(1, min(self._most, fits))

    async def _run(self) -> None:
        while self._waiting:
            group: list[_Waiting] = []
            room = self.size()
            while self._waiting and (not group or self._waiting[0].weight <= room):
                waiting = self._waiting.popleft()
                if not waiting.answer.done():
                    group.append(waiting)
                    room -= waiting.weight
            if group:
                await self._commit(group)

    async def _commit(self, group: list[_Waiting]) -> None:
        """Commit ``group``, then answer each of its changes: its result, its refusal, or the
        group's failure."""
        running = list(group)
        refusals: list[tuple[_Waiting, Exception]] = []
        try:
            results = await self._durably(running, refusals)
        except Exception as error:
            for waiting in group:
                _fail(waiting, error)
            return
        except BaseException:
            for waiting in group:
                waiting.answer.cancel()
            raise
        for waiting, result in zip(running, results, strict=True):
            if not waiting.answer.done():
                waiting.answer.set_result(result)
        for waiting, refusal in refusals:
            _fail(waiting, refusal)

    async def _durably(
        self, running: list[_Waiting], refusals: list[tuple[_Waiting, Exception]]
    ) -> list[Any]:
        """The results of ``running``'s changes, committed and durable, each in order; a change
        that refuses leaves ``running`` for ``refusals``."""
        while running:
            started = time.monotonic()
            weight = sum(waiting.weight for waiting in running)
            try:
                results, drafts, written = await in_transaction(
                    self._collection, lambda session: self._apply(session, running)
                )
            except _Refused as refused:
                running.remove(refused.waiting)
                refusals.append((refused.waiting, refused.error))
                continue
            except PyMongoError as error:
                if not error.timeout:
                    raise
                # Too many for the time they took: the next groups take fewer.
                self._measured((time.monotonic() - started) / weight)
                if error.has_error_label("UnknownTransactionCommitResult"):
                    raise
                raise OutOfTime(str(error)) from error
            self._measured((time.monotonic() - started) / weight)
            if written is not None:
                self._ledger.committed(drafts)
                await self._ledger.confirm(written)
            return results
        return []

    def _measured(self, per_change: float) -> None:
        if self._per_change:
            per_change = (1 - _WEIGHT) * self._per_change + _WEIGHT * per_change
        self._per_change = per_change

    async def _apply(
        self, session: Session, running: list[_Waiting]
    ) -> tuple[list[Any], list[E], W | None]:
        results: list[Any] = []
        drafts: list[E] = []
        for waiting in running:
            try:
                result, left = await waiting.change(session)
            except Exception as error:
                if fails_the_group(error):
                    raise
                raise _Refused(waiting, error) from error
            results.append(result)
            drafts += left
        written = await self._ledger.write(session, drafts) if drafts else None
        return results, drafts, written


def _fail(waiting: _Waiting, error: Exception) -> None:
    if not waiting.answer.done():
        waiting.answer.set_exception(error)
