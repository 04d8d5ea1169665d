"""Reading usage: one token's series, and every visible token's totals over a window.

The counts are stored as ``usage_layout`` says. A deleted token's counts stay until they
expire, but no answer shows them: a series is asked for a token that exists, and totals are
joined with the tokens that exist and the caller sees.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pymongo
from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection

from tokens_server.domain.usage import (
    OUTCOMES,
    ZERO,
    UsageCounts,
    UsageSeries,
    UsageWindow,
    bucket_start,
)
from tokens_server.storage.events import EventStore
from tokens_server.storage.failures import store
from tokens_server.storage.last_use import LastUse
from tokens_server.storage.list_memory import CATCH_UP_S, ListMemory
from tokens_server.storage.usage_layout import Slots, days_in, days_summed, hours_in, month_of

Document = dict[str, Any]
# Visible tokens at most this many are named to the database when totals are summed; more,
# and every token's counts in the window are read and the others dropped here.
_NAMED_AT_MOST = 1000


@store
class UsageStore:
    def __init__(
        self,
        hours: AsyncCollection[Document],
        days: AsyncCollection[Document],
        tokens: AsyncCollection[Document],
        lists: ListMemory,
        events: EventStore,
        last_use: LastUse,
        retention: timedelta,
        list_timeout: timedelta,
    ) -> None:
        self._hours = hours
        self._days = days
        self._tokens = tokens
        self._lists = lists
        self._events = events
        self._last_use = last_use
        self._retention = retention
        # Totals over every visible token cost what a list does: they get its time limit.
        self._list_timeout_s = list_timeout.total_seconds()

    async def create_indexes(self) -> None:
        # A document expires once its last hour (day) is older than the retention.
        for collection, field, longest in (
            (self._hours, "day", timedelta(days=1)),
            (self._days, "month", timedelta(days=31)),
        ):
            await collection.create_index([("token_id", 1), (field, 1)], unique=True)
            await _expiring(collection, field, int((self._retention + longest).total_seconds()))

    async def series(self, token_id: str, window: UsageWindow) -> UsageSeries:
        """The token's counts in each bucket of ``window``, zero where none were counted."""
        # Each hour (day) is held once, in one document, and is a bucket of its own.
        held = {start: counts async for start, counts in self._held(window, ObjectId(token_id))}
        buckets = [(start, held.get(start, ZERO)) for start in window.starts()]
        return UsageSeries(token_id, window, buckets)

    async def totals(self, window: UsageWindow, token_ids: set[str]) -> dict[str, UsageCounts]:
        """Each of ``token_ids`` with counts in ``window`` (by day): its totals."""
        match: Document = {}
        if len(token_ids) <= _NAMED_AT_MOST:
            match["token_id"] = {"$in": [ObjectId(token_id) for token_id in token_ids]}
        found: dict[str, Slots] = {}
        with pymongo.timeout(self._list_timeout_s):
            async for doc in self._days.find(match | _months(window)):
                token_id = str(doc["token_id"])
                if token_id in token_ids:
                    into = found.setdefault(token_id, [0] * len(OUTCOMES))
                    days_summed(doc, window.start, window.end, into)
        return {
            token_id: UsageCounts(slots[0], tuple(slots[1:])) for token_id, slots in found.items()
        }

    async def daily(
        self, window: UsageWindow, token_ids: Iterable[str]
    ) -> dict[str, list[UsageCounts]]:
        """Each token's counts per day of ``window``, zero-filled."""
        ids = [ObjectId(token_id) for token_id in token_ids]
        slot = {start: n for n, start in enumerate(window.starts())}
        series = {str(i): [ZERO] * len(slot) for i in ids}
        async for doc in self._days.find({"token_id": {"$in": ids}} | _months(window)):
            counts = series[str(doc["token_id"])]
            for start, held in _within(days_in(doc), window):
                counts[slot[start]] = counts[slot[start]] + held
        return series

    async def _held(
        self, window: UsageWindow, token_id: ObjectId
    ) -> AsyncIterator[tuple[datetime, UsageCounts]]:
        """Every hour (or day, for a series by the day) counted in ``window``."""
        match = {"token_id": token_id}
        if window.bucket == "hour":
            start = bucket_start(window.start, "day")
            query = match | {"day": {"$gte": start, "$lt": window.end}}
            async for doc in self._hours.find(query):
                for held in _within(hours_in(doc), window):
                    yield held
        else:
            async for doc in self._days.find(match | _months(window)):
                for held in _within(days_in(doc), window):
                    yield held

    async def visible(
        self, scopes: tuple[str, ...] | None, ids: frozenset[str] | None = None
    ) -> list[tuple[str, str, datetime | None]]:
        """Every token seen through ``scopes`` (None: every token), as (id, name, last use),
        only those of ``ids`` when given: from the list memory when it holds every change
        acknowledged so far, else the database."""
        if self._lists.answers and await self._lists.caught_up(
            await self._events.last_id(), CATCH_UP_S
        ):
            rows = [
                (r.id, r.held.name, r.last_used_at)
                for r in self._lists.visible(scopes)
                if ids is None or r.id in ids
            ]
        else:
            query: Document = {} if scopes is None else {"scopes": {"$in": list(scopes)}}
            if ids is not None:
                query["_id"] = {"$in": [ObjectId(i) for i in sorted(ids)]}
            with pymongo.timeout(self._list_timeout_s):
                found = self._tokens.find(query, {"name": 1, "last_used_at": 1})
                rows = [(str(d["_id"]), d["name"], d.get("last_used_at")) async for d in found]
        return [(i, name, self._last_used(i, used)) for i, name, used in rows]

    def _last_used(self, token_id: str, stored: datetime | None) -> datetime | None:
        """The last use as stored, or the later one this process noted and has not written."""
        noted = self._last_use.latest(token_id)
        return stored if noted is None or (stored is not None and stored >= noted) else noted


def _months(window: UsageWindow) -> Document:
    # After the condition on token_id, never before: the embedded database's planner takes the
    # first field's index (50 tokens' month documents in 40 ms by token_id, 10 s by month).
    return {"month": {"$gte": month_of(window.start), "$lt": window.end}}


def _within(
    held: Iterator[tuple[datetime, UsageCounts]], window: UsageWindow
) -> Iterator[tuple[datetime, UsageCounts]]:
    return ((start, counts) for start, counts in held if window.start <= start < window.end)


async def _expiring(collection: AsyncCollection[Document], field: str, seconds: int) -> None:
    """A TTL index on ``field``; made again when the retention changed since it was made."""
    made = (await collection.index_information()).get(f"{field}_1")
    if made is not None and made.get("expireAfterSeconds") != seconds:
        await collection.database.command(
            "collMod",
            collection.name,
            index={"keyPattern": {field: 1}, "expireAfterSeconds": seconds},
        )
    await collection.create_index(field, expireAfterSeconds=seconds)
