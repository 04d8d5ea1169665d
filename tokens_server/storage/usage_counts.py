"""Usage counted off the hot path: a verify adds one to a count in this process's memory, and
the counts are written every few seconds (with the noted last uses, ``live/last_use_writer``)
in one unordered batch of ``$inc`` upserts, one per token and UTC hour.

``$inc`` makes instances add up: two processes counting the same token and hour each add their
own counts to the one bucket. A flush that fails keeps what was not written for the next one:
the counts of the writes the database refused, or all of them when it did not answer. A write
whose answer was lost on the way back is resent once by the driver as a retryable write, which
the database applies once. A process killed between flushes loses at most one flush interval of
counts.

The flush also sets ``last_refused_at`` on each token refused since the last one (never moving
it back), so lists filter by ``refused_within`` the way they filter by ``last_used_at``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from tokens_server.domain.usage import OUTCOMES, Outcome
from tokens_server.storage.failures import store

log = logging.getLogger(__name__)

Document = dict[str, Any]
# A token id and the hour, as whole hours since 1970: a small key, hashed fast.
Key = tuple[str, int]
_SLOT = {outcome: slot for slot, outcome in enumerate(OUTCOMES)}
_HOUR_S = 3600
# Buckets held between flushes at most: about 250 bytes each (measured: 25 MB for 100k tokens
# verified in one flush interval), so ~125 MB. Reached only while the database refuses the
# flushes for long; counts of new buckets are then dropped, and the log says how many, rather
# than memory growing until the process dies.
MAX_PENDING = 500_000


def hour_of(hour: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(hours=hour)


@store
class UsageCounter:
    def __init__(
        self,
        usage: AsyncCollection[Document],
        tokens: AsyncCollection[Document],
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._usage = usage
        self._tokens = tokens
        self._max_pending = max_pending
        # Counts not yet written, by (token, hour), in OUTCOMES order; the latest refusal of
        # each token refused since the last flush.
        self._counts: dict[Key, list[int]] = {}
        self._refused_at: dict[str, datetime] = {}
        self.dropped = 0

    def count(self, token_id: str, outcome: Outcome, now: datetime) -> None:
        """One verification of the token at ``now``, answered as ``outcome``."""
        key = (token_id, int(now.timestamp()) // _HOUR_S)
        slots = self._counts.get(key)
        if slots is None:
            if len(self._counts) >= self._max_pending:
                self.dropped += 1
                return
            slots = self._counts[key] = [0] * len(OUTCOMES)
        slots[_SLOT[outcome]] += 1
        if outcome != "uses":
            self._refused_at[token_id] = now

    def pending(self) -> dict[Key, tuple[int, ...]]:
        """The counts not yet written: for the tests."""
        return {key: tuple(slots) for key, slots in self._counts.items()}

    async def flush(self) -> int:
        """Write the counts and the latest refusals; answer how many buckets were written.
        What is not written is kept for the next flush."""
        counts, self._counts = self._counts, {}
        refused, self._refused_at = self._refused_at, {}
        if self.dropped:
            log.warning("%d token verifications were not counted: too many unwritten", self.dropped)
            self.dropped = 0
        try:
            written = await self._write_counts(counts)
        finally:
            await self._write_refusals(refused)
        return written

    async def _write_counts(self, counts: dict[Key, list[int]]) -> int:
        if not counts:
            return 0
        keys = list(counts)
        writes = [_increment(key, counts[key]) for key in keys]
        try:
            await self._usage.bulk_write(writes, ordered=False)
        except BulkWriteError as error:
            # The database answered: the writes it names failed, every other one applied.
            failed = [keys[e["index"]] for e in error.details.get("writeErrors", [])]
            self._keep({key: counts[key] for key in failed})
            raise
        except BaseException:
            self._keep(counts)
            raise
        return len(keys)

    async def _write_refusals(self, refused: dict[str, datetime]) -> None:
        if not refused:
            return
        writes = [
            # Never moves last_refused_at back: another instance may have written a later one.
            UpdateOne(
                {"_id": ObjectId(token_id), "last_refused_at": {"$not": {"$gte": at}}},
                {"$set": {"last_refused_at": at}},
            )
            for token_id, at in refused.items()
        ]
        try:
            await self._tokens.bulk_write(writes, ordered=False)
        except BaseException:
            for token_id, at in refused.items():
                later = self._refused_at.get(token_id)
                self._refused_at[token_id] = at if later is None else max(at, later)
            raise

    def _keep(self, counts: dict[Key, list[int]]) -> None:
        """Add unwritten counts back to those counted since."""
        for key, old in counts.items():
            slots = self._counts.setdefault(key, [0] * len(OUTCOMES))
            for slot, n in enumerate(old):
                slots[slot] += n


def _increment(key: Key, slots: list[int]) -> UpdateOne:
    token_id, hour = key
    added = {outcome: n for outcome, n in zip(OUTCOMES, slots, strict=True) if n}
    return UpdateOne(
        {"token_id": ObjectId(token_id), "hour": hour_of(hour)}, {"$inc": added}, upsert=True
    )
