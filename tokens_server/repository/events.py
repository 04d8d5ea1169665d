"""The history: one event per change, written in the change's own transaction.

Event ids increase in commit order. Each is taken from one counter inside the transaction, so
two transactions that commit at the same moment conflict on it and one runs again after the
other: an id drawn before commit could otherwise commit out of order, and a reader resuming
"after id N" would miss the smaller id that committed later. The counter is written last in the
transaction, so a change holds it only for the moment before its commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pymongo import DESCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from ..models import Event
from .failures import inside_transactions, store
from .transactions import Session

Document = dict[str, Any]

_SEQUENCE = {"_id": "event_sequence"}
# Fields of a token that are never part of an event: its GUID in any form but the prefix that
# every caller who sees the token sees anyway, and bookkeeping that says nothing new.
_UNRECORDED = frozenset(
    {
        "_id",
        "guid_enc",
        "guid_key",
        "guid_hash",
        "name_key",
        "quota_of",
        "version",
        "updated_at",
        "updated_by",
        "last_used_at",
    }
)


def token_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> Document:
    """``{field: {"from": …, "to": …}}`` for each recorded field that differs."""
    fields = (before.keys() | after.keys()) - _UNRECORDED
    return {
        field: {"from": before.get(field), "to": after.get(field)}
        for field in sorted(fields)
        if before.get(field) != after.get(field)
    }


@store
class EventStore:
    def __init__(
        self,
        events: AsyncCollection[Document],
        meta: AsyncCollection[Document],
        retention: timedelta,
    ) -> None:
        self._events = events
        self._meta = meta
        self._retention_s = int(retention.total_seconds())

    async def create_indexes(self) -> None:
        # Made here, outside any transaction: creating a collection inside one is not portable.
        await self._meta.update_one(_SEQUENCE, {"$setOnInsert": {"last": 0}}, upsert=True)
        await self._events.create_index("at", expireAfterSeconds=self._retention_s)
        await self._events.create_index([("token_id", 1), ("_id", DESCENDING)])
        await self._events.create_index([("scopes", 1), ("_id", 1)])
        # A retention changed since the index was made: the TTL follows the setting.
        await self._events.database.command(
            "collMod",
            self._events.name,
            index={"keyPattern": {"at": 1}, "expireAfterSeconds": self._retention_s},
        )

    @inside_transactions
    async def append(
        self,
        session: Session,
        *,
        at: datetime,
        actor: str,
        action: str,
        token: Mapping[str, Any] | None = None,
        changes: Document | None = None,
        subject: str | None = None,
    ) -> int:
        """Write one event in ``session``'s transaction; answer its id. ``token`` is the token's
        document as the change left it (as it was, for a deletion)."""
        sequence = await self._meta.find_one_and_update(
            _SEQUENCE, {"$inc": {"last": 1}}, return_document=ReturnDocument.AFTER, session=session
        )
        assert sequence is not None, "the event sequence is made at start"
        event: Document = {
            "_id": sequence["last"],
            "at": at,
            "actor": actor,
            "action": action,
            "changes": changes or {},
        }
        if token is not None:
            event.update(
                token_id=str(token["_id"]),
                token_name=token["name"],
                scopes=list(token["scopes"]),
                version=token["version"],
            )
        if subject is not None:
            event["subject"] = subject
        await self._events.insert_one(event, session=session)
        return int(event["_id"])

    async def of_token(self, token_id: str, before: int | None, limit: int) -> list[Event]:
        """The token's events, newest first, those before the event id ``before`` if given."""
        query: Document = {"token_id": token_id}
        if before is not None:
            query["_id"] = {"$lt": before}
        cursor = self._events.find(query).sort("_id", DESCENDING).limit(limit)
        return [_event(doc) async for doc in cursor]


def _event(doc: Document) -> Event:
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
        subject=doc.get("subject"),
    )
