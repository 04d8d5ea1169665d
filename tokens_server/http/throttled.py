"""Addresses this instance has seen go over the failed-authentication limit, until their window
ends. Knowing them here, a further failure from such an address costs no database write (the
count is already past the limit) and a request without a key can be told to wait as well.

Bounded: a flood from many addresses forgets the oldest first; a forgotten address costs one
counter write again, then is remembered anew.
"""

from __future__ import annotations

from datetime import datetime

MAX_REMEMBERED = 10_000


class ThrottledAddresses:
    def __init__(self, capacity: int = MAX_REMEMBERED) -> None:
        self._until: dict[str, datetime] = {}
        self._capacity = capacity

    def until(self, address: str, now: datetime) -> datetime | None:
        """When the address may try again, if it is throttled now."""
        ends = self._until.get(address)
        if ends is None:
            return None
        if ends <= now:
            del self._until[address]
            return None
        return ends

    def throttle(self, address: str, until: datetime, now: datetime) -> None:
        if len(self._until) >= self._capacity:
            self._forget_expired(now)
        while len(self._until) >= self._capacity:
            del self._until[next(iter(self._until))]  # the oldest entry
        self._until[address] = until

    def _forget_expired(self, now: datetime) -> None:
        for address in [a for a, ends in self._until.items() if ends <= now]:
            del self._until[address]
