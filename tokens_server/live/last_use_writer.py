"""Writes what verify notes off the hot path every few seconds, and once more at shutdown, so
that a stopped server loses none: the last uses (``storage.last_use``) and the usage counts
(``storage.usage_counts``)."""

from __future__ import annotations

import asyncio
import logging

from tokens_server.domain.errors import DomainError
from tokens_server.storage.last_use import LastUse
from tokens_server.storage.usage_counts import UsageCounter

log = logging.getLogger(__name__)


async def write_every(last_use: LastUse, usage: UsageCounter, seconds: float) -> None:
    """Write the noted uses and counts every ``seconds``, until cancelled."""
    while True:
        await asyncio.sleep(seconds)
        await write(last_use, usage)


async def write(last_use: LastUse, usage: UsageCounter) -> None:
    # Each kept for the next try when its write fails; one failing does not hold the other.
    try:
        await last_use.flush()
    except DomainError as error:
        log.warning("the last uses of tokens could not be written (%s); trying again", error)
    try:
        await usage.flush()
    except DomainError as error:
        log.warning("the usage counts of tokens could not be written (%s); trying again", error)
