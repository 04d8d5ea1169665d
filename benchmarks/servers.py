"""Start the service or the floor app, in a child process (default) or in this one."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aiohttp import web

from .worker import _runner


class Server:
    """A running app on 127.0.0.1; ``url`` is its base address."""

    def __init__(self, url: str, process: asyncio.subprocess.Process | None,
                 runner: web.AppRunner | None) -> None:
        self.url = url
        self._process = process
        self._runner = runner

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 10)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()


async def start(kind: str, uri: str, db_name: str, data_dir: Path,
                in_process: bool = False) -> Server:
    """``kind`` is ``service`` or ``floor``; ``in_process`` shares this process's event loop."""
    if in_process:
        runner = _runner(kind, uri, db_name, data_dir)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return Server(f"http://127.0.0.1:{runner.addresses[0][1]}", None, runner)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.worker", kind, uri, db_name, str(data_dir),
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 60)
    if not line.startswith(b"port "):
        await Server("", process, None).stop()
        raise RuntimeError(f"{kind} app did not start (said {line!r}); see {data_dir}")
    return Server(f"http://127.0.0.1:{int(line.split()[1])}", process, None)
