"""Writes the uses that verify notes (``repository.last_use``) every few seconds, and once more
at shutdown, so that a stopped server loses none."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from .errors import DomainError
from .repository.last_use import FLUSH_S, LastUse
from .state import REPOSITORY

log = logging.getLogger(__name__)


async def last_use_writer(app: web.Application) -> AsyncIterator[None]:
    last_use = app[REPOSITORY].tokens.last_use
    writing = asyncio.create_task(_write_every(last_use, FLUSH_S))
    yield
    writing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await writing
    await _write(last_use)


async def _write_every(last_use: LastUse, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        await _write(last_use)


async def _write(last_use: LastUse) -> None:
    try:
        await last_use.flush()
    except DomainError as error:  # kept for the next try
        log.warning("the last uses of tokens could not be written (%s); trying again", error)
