"""Usage counted off the hot path: a verify adds one to a count in this process's memory, and
the counts are written every few seconds (with the noted last uses, ``live/last_use_writer``)
as unordered batches of ``$inc`` upserts, one per document they add to (``usage_layout``).

``$inc`` makes instances add up: two processes counting the same token and hour each add their
own counts to the one document. A write that fails keeps its counts for the next flush: those
of the documents the database refused, or all of that batch when it did not answer. A write
whose answer was lost on the way back is resent once by the driver as a retryable write, which
the database applies once. A process killed between flushes loses at most one flush interval of
counts.

The flush also sets ``last_refused_at`` on each token refused since the last one (never moving
it back), so lists filter by ``refused_within`` the way they filter by ``last_used_at``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from tokens_server.domain.usage import OUTCOMES, Outcome
from tokens_server.storage.failures import store
from tokens_server.storage.usage_layout import (
    Key,
    Slots,
    Target,
    add_to,
    by_day,
    day_fields,
    day_targets,
    hour_fields,
    hour_index,
    hour_targets,
)

log = logging.getLogger(__name__)

Document = dict[str, Any]
_SLOT = {outcome: slot for slot, outcome in enumerate(OUTCOMES)}
# Counts held between flushes at most, by (token, hour): about 250 bytes each (measured: 25 MB
# for 100k tokens verified in one flush interval), so ~125 MB. Reached only while the database
# refuses the flushes for long; counts of new (token, hour) pairs are then dropped, and the log
# says how many, rather than memory growing until the process dies.
MAX_PENDING = 500_000
# Documents added to in one write. Each write has the client's time limit, and the embedded
# database takes a few milliseconds per upsert: chunks keep each write well within the limit,
# so a flush of many tokens makes progress rather than timing out whole, again and again.
CHUNK = 50


@store
class UsageCounter:
    def __init__(
        self,
        hours: AsyncCollection[Document],
        days: AsyncCollection[Document],
        tokens: AsyncCollection[Document],
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._hours = hours
        self._days = days
        self._tokens = tokens
        self._max_pending = max_pending
        # Counted since the last flush, by (token, hour), in OUTCOMES order; what a failed
        # write left for each collection; the latest refusal of each token since the last flush.
        self._counts: dict[Key, Slots] = {}
        self._hours_left: dict[Key, Slots] = {}
        self._days_left: dict[Key, Slots] = {}
        self._refused_at: dict[str, datetime] = {}
        self.dropped = 0

    def count(self, token_id: str, outcome: Outcome, now: datetime) -> None:
        """One verification of the token at ``now``, answered as ``outcome``."""
        key = (token_id, hour_index(now))
        slots = self._counts.get(key)
        if slots is None:
            if len(self._counts) >= self._max_pending:
                self.dropped += 1
                return
            slots = self._counts[key] = [0] * len(OUTCOMES)
        slots[_SLOT[outcome]] += 1
        if outcome != "uses":
            self._refused_at[token_id] = now

    def pending(self) -> int:
        """(token, hour) pairs counted and not yet written."""
        return len(self._counts)

    async def flush(self) -> int:
        """Write the counts and the latest refusals; answer how many documents were added to.
        What is not written is kept for the next flush; raises when some was not."""
        counts, self._counts = self._counts, {}
        hours, self._hours_left = self._hours_left, {}
        days, self._days_left = self._days_left, {}
        refused, self._refused_at = self._refused_at, {}
        if self.dropped:
            log.warning("%d token verifications were not counted: too many unwritten", self.dropped)
            self.dropped = 0
        for key, slots in counts.items():
            add_to(hours, key, slots)
        for key, slots in by_day(counts).items():
            add_to(days, key, slots)
        steps: list[Callable[[], Awaitable[int]]] = [
            lambda: self._write(
                self._hours, "day", hours, hour_targets, hour_fields, self._hours_left
            ),
            lambda: self._write(
                self._days, "month", days, day_targets, day_fields, self._days_left
            ),
            lambda: self._write_refusals(refused),
        ]
        failures: list[Exception] = []
        written = 0
        for n, step in enumerate(steps):  # one failing does not keep the others back
            try:
                written += await step()
            except Exception as error:
                failures.append(error)
            except BaseException:  # cancelled (shutdown): what was not begun is kept too
                if n == 0:
                    self._keep(self._days_left, days)
                if n <= 1:
                    self._keep_refusals(refused)
                raise
        if failures:
            raise failures[0]
        return written

    async def _write(
        self,
        collection: AsyncCollection[Document],
        date_field: str,
        counts: dict[Key, Slots],
        targets_of: Callable[[dict[Key, Slots]], dict[Target, list[Key]]],
        fields_of: Callable[[list[Key], dict[Key, Slots]], dict[str, int]],
        left: dict[Key, Slots],
    ) -> int:
        """Add ``counts`` to their documents in ``collection``, a chunk at a time; keep in
        ``left`` what fails."""
        targets = list(targets_of(counts).items())
        refused: BulkWriteError | None = None
        for first in range(0, len(targets), CHUNK):
            chunk = targets[first : first + CHUNK]
            writes = [
                UpdateOne(
                    {"token_id": ObjectId(token_id), date_field: date},
                    {"$inc": fields_of(keys, counts)},
                    upsert=True,
                )
                for (token_id, date), keys in chunk
            ]
            try:
                await collection.bulk_write(writes, ordered=False)
            except BulkWriteError as error:
                # The database answered: the writes it names failed, every other one applied.
                for failed in error.details.get("writeErrors", []):
                    self._keep(left, {key: counts[key] for key in chunk[failed["index"]][1]})
                refused = error
            except BaseException:  # no answer: this chunk and the ones after it wait
                for _, keys in targets[first:]:
                    self._keep(left, {key: counts[key] for key in keys})
                raise
        if refused is not None:
            raise refused
        return len(targets)

    async def _write_refusals(self, refused: dict[str, datetime]) -> int:
        if not refused:
            return 0
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
            self._keep_refusals(refused)
            raise
        return 0

    @staticmethod
    def _keep(left: dict[Key, Slots], counts: dict[Key, Slots]) -> None:
        for key, slots in counts.items():
            add_to(left, key, slots)

    def _keep_refusals(self, refused: dict[str, datetime]) -> None:
        for token_id, at in refused.items():
            later = self._refused_at.get(token_id)
            self._refused_at[token_id] = at if later is None else max(at, later)
