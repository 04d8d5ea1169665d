"""The one change stream a process reads: new events for the live feed, and every write to
tokens, users and scopes so that the process's memory forgets what changed (``memory.py``).

It watches the database rather than each collection: one stream, one order. A write is
reported by id only, whoever made it (another instance, a migration, an operator's
shell), so no copy outlives the document it was read from.

A stream ends when the database process it reads from is no longer the one that takes writes
(a restart, a failover), even if the driver resumed it there: the embedded database reports
changes before its journal holds them, so a restarted one may lack changes the stream already
reported, and a resumed stream then skipped as many of the restarted database's first changes
(seen: a token revoked just after a restart stayed valid in memory). Its reader opens a new
stream and drops what memory holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.change_stream import AsyncChangeStream
from pymongo.asynchronous.database import AsyncDatabase

from tokens_server.domain.errors import Unavailable
from tokens_server.domain.models import Event
from tokens_server.storage.events import event_of
from tokens_server.storage.failures import speaks_domain_errors, store

Document = dict[str, Any]

# How long the stream waits in the database for news before it answers "none yet": at most
# half the client's timeout, which would otherwise end the wait with an error. Memory trusts the
# stream only while it answers this often (memory.HEARD_WITHIN_S).
_AWAIT_MS = 500
_WATCHED = ["tokens", "users", "scopes"]
_UPDATED = {"$ifNull": ["$updateDescription.updatedFields", {}]}
_REMOVED = "$updateDescription.removedFields"
_PIPELINE: list[Document] = [
    {
        "$match": {
            "$or": [
                {"ns.coll": "events", "operationType": "insert"},
                {"ns.coll": {"$in": _WATCHED}},
            ]
        }
    },
    # Which fields changed is never projected: it would carry sealed GUIDs and key hashes about.
    # Only a write that set nothing but last_used_at (a flush of uses, every few seconds for
    # every token in use) brings its value, so memory can take it instead of forgetting the copy.
    {
        "$project": {
            "ns": 1,
            "documentKey": 1,
            "operationType": 1,
            "fullDocument": 1,
            "usedAt": {
                "$cond": [
                    {
                        "$and": [
                            {"$eq": ["$operationType", "update"]},
                            {"$eq": [{"$size": {"$objectToArray": _UPDATED}}, 1]},
                            {"$eq": [{"$size": {"$ifNull": [_REMOVED, []]}}, 0]},
                        ]
                    },
                    "$updateDescription.updatedFields.last_used_at",
                    None,
                ]
            },
        }
    },
]


@dataclass(frozen=True)
class Changed:
    """A write to ``collection`` (tokens, users or scopes): to the document ``id``, or, when None,
    to the collection as a whole (dropped or renamed)."""

    collection: str
    id: str | None
    # Set when the write set the token's last use and nothing else: to this.
    used_at: datetime | None = None


@speaks_domain_errors
async def open_changes(db: AsyncDatabase[Document]) -> Changes:
    """The changes committed from this moment on, in commit order."""
    timeout_s = db.client.options.timeout
    wait_ms = _AWAIT_MS if timeout_s is None else min(_AWAIT_MS, int(timeout_s * 500))
    stream = await db.watch(_PIPELINE, max_await_time_ms=wait_ms)
    return Changes(stream, db.client)


def _writers(client: AsyncMongoClient[Document]) -> frozenset[tuple[object, object]]:
    """The database processes that take writes now: each one's address and process id."""
    return frozenset(
        (address, (server.topology_version or {}).get("processId"))
        for address, server in client.topology_description.server_descriptions().items()
        if server.is_writable
    )


@store
class Changes:
    def __init__(
        self, stream: AsyncChangeStream[Document], client: AsyncMongoClient[Document]
    ) -> None:
        self._stream = stream
        self._client = client
        self._opened_on = _writers(client)

    async def next(self) -> Event | Changed | None:
        """The next change, or None when none came for a moment (the stream is alive)."""
        change = await self._stream.try_next()
        if _writers(self._client) != self._opened_on:
            raise Unavailable("the database restarted or failed over since the stream opened")
        if change is None:
            if not self._stream.alive:
                # A closed stream answers None at once, forever: its reader must open another.
                raise Unavailable("the change stream closed")
            return None
        collection = change.get("ns", {}).get("coll")
        if collection == "events":
            return event_of(change["fullDocument"])
        key = change.get("documentKey")
        return Changed(
            str(collection), None if key is None else str(key["_id"]), change.get("usedAt")
        )

    async def close(self) -> None:
        await self._stream.close()
