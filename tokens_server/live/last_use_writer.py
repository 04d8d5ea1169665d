"""Writes the uses that verify notes (``storage.last_use``) every few seconds, and once more
at shutdown, so that a stopped server loses none."""

from __future__ import annotations

import asyncio
import logging

from tokens_server.domain.errors import DomainError
from tokens_server.storage.last_use import LastUse

log = logging.getLogger(__name__)


async def write_every(last_use: LastUse, seconds: float) -> None:
    """Write the noted uses every ``seconds``, until cancelled."""
    while True:
        await asyncio.sleep(seconds)
        await write(last_use)


async def write(last_use: LastUse) -> None:
    try:
        await last_use.flush()
    except DomainError as error:  # kept for the next try
        log.warning("the last uses of tokens could not be written (%s); trying again", error)
