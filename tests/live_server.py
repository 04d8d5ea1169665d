"""The real app on a real loopback port, served from a background thread with its own event loop,
for synchronous HTTP clients (the fuzzer) that must not run inside the tests' event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import Future
from typing import Any

from aiohttp import web

from tokens_server.app import create_app
from tokens_server.http.state import REPOSITORY
from tokens_server.live.last_use_writer import write
from tokens_server.serve import serving
from tokens_server.settings import Settings

_START_TIMEOUT_S = 30.0


class LiveServer:
    """``create_app(settings)`` served on 127.0.0.1 and a free port."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._served = contextlib.AsyncExitStack()
        self._app: web.Application | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(_START_TIMEOUT_S)

    async def _start(self) -> int:
        app = self._app = create_app(self.settings)
        addresses = await self._served.enter_async_context(
            serving(app, "127.0.0.1", 0, access_log=False)
        )
        return int(addresses[0][1])

    def start(self) -> LiveServer:
        self._thread.start()
        self.port = self._run(self._start())
        return self

    def flush(self) -> None:
        """Write the noted last uses and usage counts now, as the server does every few seconds
        (which may be writing some of them at this moment too)."""
        assert self._app is not None, "the server is not started"
        repo = self._app[REPOSITORY]
        self._run(write(repo.tokens.last_use, repo.usage_counts))

    def stop(self) -> None:
        try:
            self._run(self._served.aclose())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(_START_TIMEOUT_S)
            self._loop.close()
