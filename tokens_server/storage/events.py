"""The history: one event per change, written in the transaction that makes the change.

Event ids increase in commit order. They are taken from one counter inside the transaction: an
id drawn before commit could commit after a larger one, and a reader resuming "after id N"
would miss it. Changes commit in groups (``group_commit``): one transaction runs a group's
changes, takes as many ids as they left events with one counter update, and writes the events.
Two transactions that take the counter at once conflict, and one runs again on a fresh
snapshot; within one process the groups take turns, across processes they conflict and retry.

A change is answered only once it is durable (``EventStore._confirm_durable``): the embedded
database acknowledges a commit before its journal holds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from tokens_server.domain.errors import Unavailable
from tokens_server.domain.models import Caller, Event, EventAction, EventPage
from tokens_server.storage import group_commit
from tokens_server.storage.failures import store, untranslated
from tokens_server.storage.group_commit import GroupCommit, Ledger
from tokens_server.storage.memory import Memory
from tokens_server.storage.shared_read import SharedRead
from tokens_server.storage.transactions import Session

Document = dict[str, Any]
T = TypeVar("T")

_SEQUENCE = {"_id": "event_sequence"}
_JOURNAL = {"_id": "journal"}
# The fields an event records, each as it was and as it became. Named one by one, so that no
# GUID in any form but the prefix (which every caller who sees the token sees anyway), no key
# hash and no field added later reaches the history unless it is named here.
TOKEN_FIELDS = (
    "name",
    "description",
    "scopes",
    "valid_from",
    "valid_to",
    "revoked_at",
    "revoked_by",
    "guid_prefix",
    "previous_guid_until",
)
USER_FIELDS = ("name", "scopes", "admin")
SCOPE_FIELDS = ("name", "description")


def recorded_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], fields: tuple[str, ...]
) -> Document:
    """``{field: {"from": …, "to": …}}`` for each of ``fields`` that differs."""
    return {
        name: {"from": before.get(name), "to": after.get(name)}
        for name in fields
        if before.get(name) != after.get(name)
    }


@dataclass(frozen=True)
class Draft:
    """An event as a change describes it; the store gives it its id when the change commits.
    ``token`` is the token's document as the change left it (as it was, for a deletion);
    ``user`` and ``scope`` name what a user.* or scope.* event is about; ``user_id`` tells
    apart users that had the same name."""

    at: datetime
    actor: str
    action: EventAction
    token: Mapping[str, Any] | None = None
    changes: Document = field(default_factory=dict)
    user: str | None = None
    user_id: str | None = None
    scope: str | None = None


@dataclass(frozen=True)
class _Written:
    """Which events a group's commit wrote: consecutive ids, and a value no other commit writes,
    so that events given the same ids after a lost commit are not taken for these."""

    ids: range
    commit: ObjectId

    @property
    def key(self) -> Document:
        return {"_id": {"$in": list(self.ids)}, "commit": self.commit}


# What a change run by ``EventStore.commit`` answers: its result, and its event unless it changed
# nothing.
Change = group_commit.Change[T, Draft]
# What a change of many run by ``EventStore.commit_many`` answers: its result, and an event for
# each thing it changed.
ChangeMany = group_commit.ChangeMany[T, Draft]


@store
class EventStore:
    def __init__(
        self,
        events: AsyncCollection[Document],
        meta: AsyncCollection[Document],
        retention: timedelta,
        memory: Memory,
    ) -> None:
        self._events = events
        self._memory = memory
        self._meta = meta
        self._retention_s = int(retention.total_seconds())
        ledger = Ledger(write=self._append, committed=self._forget, confirm=self._confirm)
        self._groups: GroupCommit[Draft, _Written] = GroupCommit(events, ledger)
        self._shared_last_id = SharedRead(self._read_last_id)
        # Whether a change needs a journaled write after its commit to be durable; true until
        # the database is known to journal its commits (``prepare``).
        self.confirm_commits = True

    async def create_indexes(self) -> None:
        # Made here, outside any transaction: creating a collection inside one is not portable.
        await self._meta.update_one(_SEQUENCE, {"$setOnInsert": {"last": 0}}, upsert=True)
        made = (await self._events.index_information()).get("at_1")
        if made is not None and made.get("expireAfterSeconds") != self._retention_s:
            # The retention changed since the index was made: the index follows the setting
            # (making it again with another expiry would be refused as a conflict).
            await self._events.database.command(
                "collMod",
                self._events.name,
                index={"keyPattern": {"at": 1}, "expireAfterSeconds": self._retention_s},
            )
        await self._events.create_indexes(
            [
                IndexModel("at", expireAfterSeconds=self._retention_s),
                IndexModel([("token_id", 1), ("_id", DESCENDING)]),
                IndexModel([("scopes", 1), ("_id", 1)]),
                IndexModel([("user_id", 1), ("_id", 1)], sparse=True),
            ]
        )

    @untranslated
    async def commit(self, change: Change[T]) -> T:
        """Run ``change`` and write its event in one transaction, both or neither, shared with
        the changes that wait beside it (``group_commit``); answered once durable."""
        return await self._groups.commit(change)

    @untranslated
    async def commit_many(self, change: ChangeMany[T], weight: int) -> T:
        """``commit`` for a change of about ``weight`` things at once (``changes_fit`` says
        how many fit the time of one commit)."""
        return await self._groups.commit_many(change, weight)

    def changes_fit(self) -> int:
        """How many changes one commit takes, as their recent cost says."""
        return self._groups.size()

    def _forget(self, drafts: list[Draft]) -> None:
        # This process forgets its copies now, before any change is answered; the change stream
        # tells the other instances (and this one again) a moment later.
        for draft in drafts:
            if draft.token is not None:
                self._memory.forget_token(str(draft.token["_id"]))
            if draft.user_id is not None:
                self._memory.forget_user(draft.user_id)
            if draft.scope is not None:
                self._memory.forget_scopes()

    async def _confirm(self, written: _Written) -> None:
        if self.confirm_commits:
            await self._confirm_durable(written)

    async def _confirm_durable(self, written: _Written) -> None:
        """Return once the committed group is in the journal; Unavailable if it was lost.

        The embedded database commits a transaction without waiting for its journal, whatever
        the write concern says; a journaled write after it waits for the journal up to and
        including the commit, but only on the same database process. When the database died
        between the two, the driver retried that write on the restarted process, which never
        had the commit, and the change was answered and lost (seen under load). So the group's
        own events are read back after the journaled write: all found, the commit is in the
        journal (this write covered it, or a restarted database recovered it from there); any
        missing, it died with the process, and every change of the group is told that nothing
        changed.
        """
        await self._meta.update_one(_JOURNAL, {"$inc": {"writes": 1}}, upsert=True)
        # Found by id (a count is an aggregation, which the embedded database runs slower).
        found = await self._events.find(written.key, {"_id": 1}).to_list()
        if len(found) < len(written.ids):
            raise Unavailable("the database restarted before the change was stored; try again")

    async def _append(self, session: Session, drafts: list[Draft]) -> _Written:
        """Write the group's events, in the order of its changes, with one counter update."""
        sequence = await self._meta.find_one_and_update(
            _SEQUENCE,
            {"$inc": {"last": len(drafts)}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        assert sequence is not None, "the event sequence is made at start"
        last = int(sequence["last"])
        written = _Written(range(last - len(drafts) + 1, last + 1), ObjectId())
        events = zip(written.ids, drafts, strict=True)
        await self._events.insert_many(
            [_event(number, written.commit, draft) for number, draft in events], session=session
        )
        return written

    async def last_id(self) -> int:
        """The id of the last event committed: a change acknowledged before this call has an
        event id no greater. Callers at once share a read (every list asks)."""
        return await self._shared_last_id()

    async def _read_last_id(self) -> int:
        sequence = await self._meta.find_one(_SEQUENCE, {"last": 1})
        return 0 if sequence is None else int(sequence["last"])

    async def of_token(
        self, token_id: str, caller: Caller, before: int | None, limit: int
    ) -> EventPage:
        """The token's events that ``caller`` may see, newest first; those before the event id
        ``before`` if given."""
        query: Document = {"token_id": token_id, **visible_to(caller)}
        if before is not None:
            query["_id"] = {"$lt": before}
        return await self._page(query, DESCENDING, limit)

    async def after(self, caller: Caller, after: int, limit: int) -> EventPage:
        """The events ``caller`` may see, oldest first, from the one after the event id
        ``after``."""
        query: Document = {"_id": {"$gt": after}, **visible_to(caller)}
        return await self._page(query, ASCENDING, limit)

    async def _page(self, query: Document, order: int, limit: int) -> EventPage:
        # One more than asked for tells whether more follow, without counting them.
        cursor = self._events.find(query).sort("_id", order).limit(limit + 1)
        events = [event_of(doc) async for doc in cursor]
        return EventPage(events[:limit], more=len(events) > limit)


def _event(number: int, commit: ObjectId, draft: Draft) -> Document:
    event: Document = {
        "_id": number,
        "commit": commit,
        "at": draft.at,
        "actor": draft.actor,
        "action": draft.action,
        "changes": draft.changes,
    }
    if draft.token is not None:
        event.update(
            token_id=str(draft.token["_id"]),
            token_name=draft.token["name"],
            scopes=list(draft.token["scopes"]),
            version=draft.token["version"],
        )
    if draft.user is not None:
        event["user"] = draft.user
        event["user_id"] = draft.user_id
    if draft.scope is not None:
        event["scope"] = draft.scope
    return event


def visible_to(caller: Caller) -> Document:
    """The query form of ``Caller.sees_event``."""
    if caller.admin:
        return {}
    return {"$or": [{"scopes": {"$in": sorted(caller.scopes)}}, {"user_id": caller.user_id}]}


def event_of(doc: Document) -> Event:
    return Event(
        id=doc["_id"],
        at=doc["at"],
        actor=doc["actor"],
        action=doc["action"],
        token_id=doc.get("token_id"),
        token_name=doc.get("token_name"),
        scopes=list(doc.get("scopes", [])),
        version=doc.get("version"),
        changes=doc.get("changes", {}),
        user=doc.get("user"),
        user_id=doc.get("user_id"),
        scope=doc.get("scope"),
    )
