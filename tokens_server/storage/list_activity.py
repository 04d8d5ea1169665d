"""Which held tokens are active at the moment a list asks: kept between lists by a heap of the
moments a held token starts or ends, so a list by status or by ``is_active`` reads a set, and
no list computes the status of every token.

A token that starts or expires while held is active exactly from ``valid_from`` and until
``valid_to``: each list first takes in the moments that have passed (``at``). A moment is
scheduled when a token is put with new dates; a token changed again leaves its old moments in
the heap, and they only make ``at`` look at it once more.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from datetime import datetime

from tokens_server.storage.listed import Listed

# Past this many moments per held token, stale ones are dropped by building the heap anew.
_STALE_PER_TOKEN = 2


class Activity:
    def __init__(self) -> None:
        self.active: set[str] = set()
        self._now: datetime | None = None  # the moment ``active`` is exact for
        self._due: list[tuple[datetime, str]] = []

    def clear(self) -> None:
        self.active = set()
        self._now = None
        self._due = []

    def put(self, old: Listed | None, row: Listed) -> None:
        if self._now is None:
            return  # built at the first list
        self._place(row, self._now)
        if old is None or (old.valid_from, old.valid_to) != (row.valid_from, row.valid_to):
            self._schedule(row, self._now)

    def drop(self, token_id: str) -> None:
        self.active.discard(token_id)

    def at(self, now: datetime, rows: Mapping[str, Listed]) -> set[str]:
        """The ids of the tokens active at ``now``: read, never change it."""
        if self._now is None or now < self._now:  # the first list, or the clock went back
            self._rebuild(now, rows)
            return self.active
        self._now = now
        due = self._due
        while due and due[0][0] <= now:
            row = rows.get(heapq.heappop(due)[1])
            if row is not None:
                self._place(row, now)
        if len(due) > _STALE_PER_TOKEN * len(rows) + 1024:
            self._rebuild(now, rows)
        return self.active

    def _place(self, row: Listed, now: datetime) -> None:
        if row.is_active(now):
            self.active.add(row.id)
        else:
            self.active.discard(row.id)

    def _schedule(self, row: Listed, now: datetime) -> None:
        for moment in (row.valid_from, row.valid_to):
            if moment is not None and moment > now:
                heapq.heappush(self._due, (moment, row.id))

    def _rebuild(self, now: datetime, rows: Mapping[str, Listed]) -> None:
        self._now = now
        self.active = {token_id for token_id, row in rows.items() if row.is_active(now)}
        self._due = [
            (moment, token_id)
            for token_id, row in rows.items()
            for moment in (row.valid_from, row.valid_to)
            if moment is not None and moment > now
        ]
        heapq.heapify(self._due)
