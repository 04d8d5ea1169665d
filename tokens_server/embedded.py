"""The embedded default database: SecantusDB as a child process on a free loopback port.

It runs as a separate program, never in the server's process: it is pure Python above WiredTiger
and would otherwise share the GIL with the web server.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import functools
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
_BUSY = b"already being managed by another process"
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


# Loaded in the server, not in the forked child: loading a library between fork and exec can
# deadlock when another thread held the loader's lock at the fork.
_LIBC = ctypes.CDLL(None, use_errno=True)


def _die_with_parent(parent_pid: int) -> None:
    """In the child before exec: the kernel sends SIGTERM when the server dies, even by SIGKILL.

    The signal follows the *thread* that forked, so start the database from the thread that lives
    as long as the server (the event loop's). If the server died before the prctl took effect, no
    signal will ever come, hence the ``getppid`` check.
    """
    with contextlib.suppress(AttributeError):
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:
        os._exit(1)


def _executable() -> str:
    beside_python = Path(sys.executable).with_name("secantusd-py")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("secantusd-py")
    if found is None:
        raise EmbeddedDatabaseError("secantusd-py is not installed; install the SecantusDB package")
    return found


class _StorageBusy(EmbeddedDatabaseError):
    """WiredTiger refused the storage: another database process has it open."""


class EmbeddedDatabase:
    """A SecantusDB child process; ``storage`` is a directory, or ``":memory:"``.

    ``busy_grace`` is how long ``start`` waits for a storage held by another database process.
    A server killed by SIGKILL leaves its database shutting down for about 2 s; the new server,
    which holds the data directory lock, knows that process is on its way out and waits for it.
    """

    def __init__(self, storage: Path | str, log_path: Path, busy_grace: float = 5.0) -> None:
        self.storage = storage
        self.log_path = log_path
        self.busy_grace = busy_grace
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

    # A deadline of its own rather than an outer asyncio.timeout: when it passes, the child
    # process must be killed too, and the message must say what happened.
    async def start(self, timeout: float = 60.0, port: int = 0) -> None:  # noqa: ASYNC109
        """Start the database on ``port`` (0: any free one); return once it takes connections."""
        if isinstance(self.storage, Path):
            self.storage.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        busy_until = time.monotonic() + self.busy_grace
        while True:
            try:
                self.port = await self._start_once(deadline, port)
                return
            except _StorageBusy:
                if time.monotonic() >= busy_until:
                    raise
                await asyncio.sleep(0.2)

    def exited(self) -> int | None:
        """The exit code when the process ended without ``stop``; None while it runs."""
        return None if self._process is None else self._process.poll()

    async def restart(self) -> None:
        """Start again on the same port, so connected clients reconnect on their own."""
        port = self.port or 0
        self._kill()
        await self.start(port=port)

    async def _start_once(self, deadline: float, port: int) -> int:
        with self.log_path.open("ab") as log:
            start_offset = log.tell()
            # Popen rather than asyncio's subprocess: an asyncio process belongs to one event
            # loop, and test fixtures stop the database from another; the fork is quick.
            self._process = subprocess.Popen(  # noqa: S603, ASYNC220 - fixed argv, no shell
                [
                    _executable(),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--storage-path",
                    str(self.storage),
                    "--log-level",
                    "INFO",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                preexec_fn=functools.partial(_die_with_parent, os.getpid()),
                start_new_session=True,  # Ctrl-C in a terminal goes to the server, which stops us
            )
        try:
            return await self._wait_for_port(self._process, start_offset, deadline)
        except BaseException:  # also on cancellation: never leave a half-started child behind
            self._kill()
            raise

    async def _wait_for_port(
        self, process: subprocess.Popen[bytes], offset: int, deadline: float
    ) -> int:
        while time.monotonic() < deadline:
            output = self._read_log(offset)
            match = _LISTENING.search(output)
            if match:
                return int(match.group(1))
            if process.poll() is not None:
                if _BUSY in output:
                    raise _StorageBusy(
                        f"the database in {self.storage} is already in use by another process"
                    )
                raise EmbeddedDatabaseError(self._explain_exit(output))
            await asyncio.sleep(0.02)
        raise EmbeddedDatabaseError(
            f"the embedded database did not start in time; see {self.log_path}"
        )

    def _read_log(self, offset: int) -> bytes:
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read()

    def _explain_exit(self, output: bytes) -> str:
        last = output.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return f"the embedded database exited at start ({last[0]}); see {self.log_path}"

    def _kill(self) -> None:
        process, self._process, self.port = self._process, None, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    # ``timeout`` is the grace period before SIGKILL, not a cancellation deadline.
    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Stop cleanly with SIGTERM so WiredTiger checkpoints; SIGKILL if it hangs."""
        process, self._process, self.port = self._process, None, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
