"""Changes made without If-Match: they must apply, however busy the token, within a time limit.

A change reads the token, checks it, and writes only if what it checked still holds. When
another writer got in between, the change is checked again on the new state, read from the
database, and retried after a short random pause that keeps contending writers from colliding
in lockstep.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tokens_server.domain.errors import Conflict

T = TypeVar("T")

# How long a change keeps retrying before it gives up with 409. Writers of what the others
# check (a token's dates) apply one per group commit, 50-150 ms each on the embedded database
# with the cores busy: enough for a few dozen of them on one token, a few seconds at most.
RETRY_FOR_S = 5.0
_FIRST_PAUSE_S, _LONGEST_PAUSE_S = 0.002, 0.05


async def until_applied(attempt: Callable[[bool], Awaitable[T | None]]) -> T:
    """Run ``attempt`` until it answers something other than None (None: it lost a race).

    Its argument says whether to read the token from the database rather than from memory:
    after a lost race memory may not hold the winner's write yet (the change stream brings it
    a moment later), and a check of that copy would only lose again."""
    deadline = time.monotonic() + RETRY_FOR_S
    pause = _FIRST_PAUSE_S
    fresh = False
    while True:
        result = await attempt(fresh)
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            raise Conflict(
                f"the token kept changing for {RETRY_FOR_S:g} s while this change waited; try again"
            )
        await asyncio.sleep(random.uniform(0, pause))  # noqa: S311 - jitter, not a secret
        pause = min(pause * 2, _LONGEST_PAUSE_S)
        fresh = True
