"""When each token was last used, recorded off the hot path.

A verify only notes the use here. A token's use is noted at most once a ``RESOLUTION`` (a
minute), and the notes are written in one batch every ``FLUSH_S``, so the stored
``last_used_at`` is never more than a minute older than the latest use, plus the flush period.
This process's answers show its own notes at once (``latest``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from tokens_server.domain.models import Token
from tokens_server.storage.failures import store
from tokens_server.storage.memory import BoundedMap

Document = dict[str, Any]

RESOLUTION = timedelta(minutes=1)
FLUSH_S = 10.0


@store
class LastUse:
    def __init__(self, tokens: AsyncCollection[Document], max_tokens: int) -> None:
        self._tokens = tokens
        # The latest use this process noted of each token, and those not yet written.
        self._noted: BoundedMap[str, datetime] = BoundedMap(max_tokens)
        self._unwritten: dict[str, datetime] = {}

    def note(self, token_id: str, stored: datetime | None, now: datetime) -> None:
        """A use of the token at ``now``; ``stored`` is its last use as read with it."""
        known = max(filter(None, (stored, self._noted.get(token_id))), default=None)
        if known is not None and known > now - RESOLUTION:
            return
        self._noted.put(token_id, now)
        self._unwritten[token_id] = now

    def latest(self, token_id: str) -> datetime | None:
        """The latest use this process noted, written or not."""
        return self._noted.get(token_id)

    def shown(self, token: Token) -> Token:
        """The token, with the latest use this process noted and has not written yet."""
        noted = self.latest(token.id)
        if noted is not None and (token.last_used_at is None or noted > token.last_used_at):
            return replace(token, last_used_at=noted)
        return token

    async def flush(self) -> int:
        """Write the noted uses; answer how many. Kept for the next flush if the write fails."""
        batch, self._unwritten = self._unwritten, {}
        if not batch:
            return 0
        writes = [
            # Never moves last_used_at back: another instance may have written a later use.
            UpdateOne(
                {"_id": ObjectId(token_id), "last_used_at": {"$not": {"$gte": at}}},
                {"$set": {"last_used_at": at}},
            )
            for token_id, at in batch.items()
        ]
        try:
            await self._tokens.bulk_write(writes, ordered=False)
        except BaseException:
            for token_id, at in batch.items():
                self._unwritten.setdefault(token_id, at)
            raise
        return len(batch)
