"""Start the service or the floor app, in a child process (default) or in this one."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path

import aiohttp

from tokens_server.serve import serving

from .worker import URI_VARIABLE, build, logs_access


class Server:
    """A running app on 127.0.0.1; ``url`` is its base address."""

    def __init__(self, url: str, process: asyncio.subprocess.Process | None,
                 in_process: contextlib.AsyncExitStack | None) -> None:
        self.url = url
        self._process = process
        self._in_process = in_process

    @property
    def pid(self) -> int | None:
        """The app's own process, when it runs in one."""
        return None if self._process is None else self._process.pid

    async def stop(self) -> None:
        if self._in_process is not None:
            await self._in_process.aclose()
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 10)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()


async def start(kind: str, uri: str, db_name: str, data_dir: Path,
                in_process: bool = False) -> Server:
    """``kind`` is one of ``worker.build``'s (``service``, ``service-without-history``,
    ``service-lists-from-database``, ``floor``); ``in_process``
    shares this process's event loop."""
    if in_process:
        served = contextlib.AsyncExitStack()
        app = build(kind, uri, db_name, data_dir)
        addresses = await served.enter_async_context(
            serving(app, "127.0.0.1", 0, access_log=logs_access(kind)))
        return Server(f"http://127.0.0.1:{addresses[0][1]}", None, served)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.worker", kind, db_name, str(data_dir),
        stdout=asyncio.subprocess.PIPE, env={**os.environ, URI_VARIABLE: uri},
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 60)
    if not line.startswith(b"port "):
        await Server("", process, None).stop()
        raise RuntimeError(f"{kind} app did not start (said {line!r}); see {data_dir}")
    return Server(f"http://127.0.0.1:{int(line.split()[1])}", process, None)


async def health(url: str) -> dict[str, str]:
    """The service's ``/health`` body (also when it answers 503)."""
    async with aiohttp.ClientSession() as session, session.get(f"{url}/api/v1/health") as answer:
        body: dict[str, str] = await answer.json()
        return body


async def lists_ready(url: str, within_s: float = 900.0) -> float:
    """Wait until the service at ``url`` answers lists from memory (``/health`` says ``lists:
    memory``); the seconds waited. Raises TimeoutError past ``within_s``."""
    started = time.perf_counter()
    async with asyncio.timeout(within_s):
        while (await health(url)).get("lists") != "memory":  # noqa: ASYNC110
            await asyncio.sleep(0.25)  # each look pings the database
    return time.perf_counter() - started
