"""Reading usage: one token's series, and every visible token's totals over a window.

Buckets are documents of the ``usage`` collection, one per token and UTC hour (unique), with a
count per outcome (``domain.usage.OUTCOMES``; an outcome never counted is absent) and removed
by a TTL index on the hour once the retention has passed. A deleted token's buckets stay until
then, but no answer shows them: a series is asked for a token that exists, and totals are
joined with the tokens that exist and the caller sees.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import pymongo
from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection

from tokens_server.domain.usage import OUTCOMES, UsageCounts, UsageSeries, UsageWindow, bucket_start
from tokens_server.storage.events import EventStore
from tokens_server.storage.failures import store
from tokens_server.storage.last_use import LastUse
from tokens_server.storage.list_memory import CATCH_UP_S, ListMemory

Document = dict[str, Any]
# Visible tokens at most this many are named to the database when totals are summed; more,
# and every bucket of the window is summed and the others dropped here.
_NAMED_AT_MOST = 1000


def _counts(doc: Document) -> UsageCounts:
    return UsageCounts.of({outcome: int(doc.get(outcome) or 0) for outcome in OUTCOMES})


@store
class UsageStore:
    def __init__(
        self,
        usage: AsyncCollection[Document],
        tokens: AsyncCollection[Document],
        lists: ListMemory,
        events: EventStore,
        last_use: LastUse,
        retention: timedelta,
        list_timeout: timedelta,
    ) -> None:
        self._usage = usage
        self._tokens = tokens
        self._lists = lists
        self._events = events
        self._last_use = last_use
        self._retention_s = int(retention.total_seconds())
        # Totals over every visible token cost what a list does: they get its time limit.
        self._list_timeout_s = list_timeout.total_seconds()

    async def create_indexes(self) -> None:
        await self._usage.create_index([("token_id", 1), ("hour", 1)], unique=True)
        made = (await self._usage.index_information()).get("hour_1")
        if made is not None and made.get("expireAfterSeconds") != self._retention_s:
            # The retention changed since the index was made: the index follows the setting.
            await self._usage.database.command(
                "collMod",
                self._usage.name,
                index={"keyPattern": {"hour": 1}, "expireAfterSeconds": self._retention_s},
            )
        await self._usage.create_index("hour", expireAfterSeconds=self._retention_s)

    async def series(self, token_id: str, window: UsageWindow) -> UsageSeries:
        """The token's counts in each bucket of ``window``, zero where none were counted."""
        found = self._usage.find(
            {"token_id": ObjectId(token_id), "hour": {"$gte": window.start, "$lt": window.end}}
        )
        summed: dict[datetime, UsageCounts] = defaultdict(UsageCounts)
        async for doc in found:
            start = bucket_start(doc["hour"], window.bucket)
            summed[start] = summed[start] + _counts(doc)
        buckets = [(start, summed.get(start, UsageCounts())) for start in window.starts()]
        return UsageSeries(token_id, window, buckets)

    async def totals(self, window: UsageWindow, token_ids: set[str]) -> dict[str, UsageCounts]:
        """Each of ``token_ids`` with counts in ``window``: its totals."""
        match: Document = {"hour": {"$gte": window.start, "$lt": window.end}}
        if len(token_ids) <= _NAMED_AT_MOST:
            match["token_id"] = {"$in": [ObjectId(token_id) for token_id in token_ids]}
        group: Document = {"_id": "$token_id"} | {o: {"$sum": f"${o}"} for o in OUTCOMES}
        with pymongo.timeout(self._list_timeout_s):
            cursor = await self._usage.aggregate([{"$match": match}, {"$group": group}])
            found = {str(doc["_id"]): _counts(doc) async for doc in cursor}
        return {token_id: counts for token_id, counts in found.items() if token_id in token_ids}

    async def daily(
        self, window: UsageWindow, token_ids: Iterable[str]
    ) -> dict[str, list[UsageCounts]]:
        """Each token's counts per bucket of ``window`` (by day), zero-filled."""
        ids = [ObjectId(token_id) for token_id in token_ids]
        found = self._usage.find(
            {"token_id": {"$in": ids}, "hour": {"$gte": window.start, "$lt": window.end}}
        )
        starts = window.starts()
        slot = {start: n for n, start in enumerate(starts)}
        series = {str(i): [UsageCounts()] * len(starts) for i in ids}
        async for doc in found:
            counts = series[str(doc["token_id"])]
            n = slot[bucket_start(doc["hour"], window.bucket)]
            counts[n] = counts[n] + _counts(doc)
        return series

    async def visible(
        self, scopes: tuple[str, ...] | None
    ) -> list[tuple[str, str, datetime | None]]:
        """Every token seen through ``scopes`` (None: every token), as (id, name, last use):
        from the list memory when it holds every change acknowledged so far, else the
        database."""
        if self._lists.answers and await self._lists.caught_up(
            await self._events.last_id(), CATCH_UP_S
        ):
            rows = [(r.id, r.held.name, r.last_used_at) for r in self._lists.visible(scopes)]
        else:
            query: Document = {} if scopes is None else {"scopes": {"$in": list(scopes)}}
            with pymongo.timeout(self._list_timeout_s):
                found = self._tokens.find(query, {"name": 1, "last_used_at": 1})
                rows = [(str(d["_id"]), d["name"], d.get("last_used_at")) async for d in found]
        return [(i, name, self._last_used(i, used)) for i, name, used in rows]

    def _last_used(self, token_id: str, stored: datetime | None) -> datetime | None:
        """The last use as stored, or the later one this process noted and has not written."""
        noted = self._last_use.latest(token_id)
        return stored if noted is None or (stored is not None and stored >= noted) else noted
