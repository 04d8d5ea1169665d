"""Failed-authentication counters, kept in the database so every instance sees the same count.

One document per client address and fixed time window; a TTL index removes it after the window.
The counter is written without waiting for the journal: it is advisory (a lost increment lets
one more guess through), and a journaled write per failed attempt let unauthenticated requests
buy the database's slowest operation at will.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError
from pymongo.write_concern import WriteConcern

from tokens_server.storage.failures import store

Document = dict[str, object]

# Concurrent first failures of one address race to insert its window's document: the losers
# see a duplicate key, or (on some servers) no document, and simply count again.
_ATTEMPTS = 5


@store
class AuthFailures:
    def __init__(self, failures: AsyncCollection[Document], window: timedelta) -> None:
        self._failures = failures.with_options(write_concern=WriteConcern(w=1, j=False))
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
        doc_id = f"{address}|{start.timestamp():.0f}"
        for _ in range(_ATTEMPTS):
            try:
                doc = await self._failures.find_one_and_update(
                    {"_id": doc_id},
                    {"$inc": {"count": 1}, "$setOnInsert": {"expires_at": ends}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                continue
            if doc is not None:
                return int(doc["count"]), ends  # type: ignore[call-overload]
        # Every attempt lost a race: the others did count, so the limit still holds.
        return 1, ends
