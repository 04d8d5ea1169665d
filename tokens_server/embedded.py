"""The embedded default database: SecantusDB as a child process on a free loopback port.

It runs as a separate program, never in the server's process: it is pure Python above WiredTiger
and would otherwise share the GIL with the web server.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

_LISTENING = re.compile(rb"secantus listening on [0-9.]+:(\d+)")
_PR_SET_PDEATHSIG = 1


class EmbeddedDatabaseError(RuntimeError):
    """The embedded database could not be started."""


class DataDirLocked(EmbeddedDatabaseError):
    """Another server already uses this data directory."""


def lock_data_dir(data_dir: Path) -> IO[str]:
    """Take an exclusive lock on ``data_dir`` for this process's lifetime; fail at once if held."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / "server.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise DataDirLocked(
            f"another tokens-server (pid {holder}) is already using the data directory {data_dir}"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _die_with_parent() -> None:
    """Runs in the child before exec: the kernel sends SIGTERM when the server dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _executable() -> str:
    beside_python = Path(sys.executable).with_name("secantusd-py")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("secantusd-py")
    if found is None:
        raise EmbeddedDatabaseError("secantusd-py is not installed; install the SecantusDB package")
    return found


class EmbeddedDatabase:
    """A SecantusDB child process. ``storage`` is a directory, or ``":memory:"`` for a throwaway one."""

    def __init__(self, storage: Path | str, log_path: Path) -> None:
        self.storage = storage
        self.log_path = log_path
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        if self.port is None:
            raise EmbeddedDatabaseError("the embedded database is not running")
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    async def start(self, timeout: float = 60.0) -> None:
        if isinstance(self.storage, Path):
            self.storage.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            start_offset = log.tell()
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                [_executable(), "--host", "127.0.0.1", "--port", "0",
                 "--storage-path", str(self.storage), "--log-level", "INFO"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only a prctl call
                start_new_session=True,  # Ctrl-C in a terminal goes to the server, which stops us
            )
        self.port = await self._wait_for_port(start_offset, timeout)

    async def _wait_for_port(self, offset: int, timeout: float) -> int:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            output = self._read_log(offset)
            match = _LISTENING.search(output)
            if match:
                return int(match.group(1))
            if self._process.poll() is not None:
                raise EmbeddedDatabaseError(self._explain_exit(output))
            await asyncio.sleep(0.02)
        self._process.kill()
        raise EmbeddedDatabaseError(f"the embedded database did not start within {timeout:.0f} s")

    def _read_log(self, offset: int) -> bytes:
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read()

    def _explain_exit(self, output: bytes) -> str:
        if b"already being managed by another process" in output:
            return f"the database in {self.storage} is already in use by another process"
        last = output.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return f"the embedded database exited at start ({last[0]}); see {self.log_path}"

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop cleanly with SIGTERM so WiredTiger checkpoints; SIGKILL if it hangs."""
        process, self._process, self.port = self._process, None, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if process.poll() is None:
            process.kill()
            process.wait()
