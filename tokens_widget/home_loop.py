"""The widget's work runs on the event loop the widget was made on, whoever asks for it.

A notebook cell runs on the kernel's main loop, and the widget's client session and tasks belong
to it. JupyterLab, though, delivers widget messages on a kernel subshell: another thread with its
own loop. Work started there would use the client's connection from a loop it does not belong to
(aiohttp refuses), so it is handed back to the home loop instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


class HomeLoop:
    """The loop an object was made on (None outside a running loop) and the tasks it runs."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        with contextlib.suppress(RuntimeError):
            self.loop = asyncio.get_running_loop()
        self._tasks: set[asyncio.Task[Any]] = set()

    def away(self) -> asyncio.AbstractEventLoop | None:
        """The home loop when this call runs on another one, else None."""
        home = self.loop
        if home is None or home.is_closed() or not home.is_running():
            return None
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        return None if running is home else home

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` on the running (else the current) loop, keeping a reference to it."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("tokens widget task failed", exc_info=task.exception())

    async def settled(self) -> None:
        """Wait until every task started here has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


class AtHome(Protocol):
    home: HomeLoop


H = TypeVar("H", bound=AtHome)


def on_home_loop(
    method: Callable[Concatenate[H, P], R],
) -> Callable[Concatenate[H, P], R | None]:
    """Run ``method`` on its object's home loop: called from another thread's loop, it is handed
    over there (and answers None), as the work it starts belongs to the home loop."""

    @functools.wraps(method)
    def run_at_home(owner: H, /, *args: P.args, **kwargs: P.kwargs) -> R | None:
        home = owner.home.away()
        if home is None:
            return method(owner, *args, **kwargs)
        home.call_soon_threadsafe(functools.partial(method, owner, *args, **kwargs))
        return None

    return run_at_home
