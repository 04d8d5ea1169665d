"""One read shared by the callers that want it at once, none of them given an answer older
than its call.

A caller joins the next read to begin, never one already under way: that one may have been
answered before a change the caller has already seen acknowledged. So a burst of callers costs
at most two reads, whatever its size.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class SharedRead(Generic[T]):
    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        self._read = read
        self._next: asyncio.Future[T] | None = None  # the read the next callers wait for
        self._reader: asyncio.Task[None] | None = None

    async def __call__(self) -> T:
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            # Read by no caller when every caller that waited for it was cancelled.
            self._next.add_done_callback(_retrieve)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_for_callers())
        # A caller that gives up leaves the read to the others.
        return await asyncio.shield(self._next)

    async def _read_for_callers(self) -> None:
        while (waiting := self._next) is not None:
            self._next = None  # callers from now on wait for the read after this one
            try:
                waiting.set_result(await self._read())
            except asyncio.CancelledError:
                waiting.cancel()
                raise
            except Exception as error:
                waiting.set_exception(error)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
