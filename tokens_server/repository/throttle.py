"""Failed-authentication counters, kept in the database so every instance sees the same count.

One document per client address and fixed time window; a TTL index removes it after the window.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

Document = dict[str, object]


class FailureCounter:
    def __init__(self, failures: AsyncCollection[Document], window: timedelta) -> None:
        self._failures = failures
        self._window = window

    async def create_indexes(self) -> None:
        await self._failures.create_index("expires_at", expireAfterSeconds=0)

    def _window_start(self, now: datetime) -> datetime:
        step = self._window.total_seconds()
        return datetime.fromtimestamp(now.timestamp() // step * step, now.tzinfo)

    async def add(self, address: str, now: datetime) -> tuple[int, datetime]:
        """Count one failure of ``address``; answer the window's count and when the window ends."""
        start = self._window_start(now)
        ends = start + self._window
        doc = await self._failures.find_one_and_update(
            {"_id": f"{address}|{start.timestamp():.0f}"},
            {"$inc": {"count": 1}, "$setOnInsert": {"expires_at": ends}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        return int(doc["count"]), ends  # type: ignore[call-overload]
