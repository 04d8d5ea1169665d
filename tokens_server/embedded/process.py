"""The embedded database's process: SecantusDB as a child on a free loopback port.

One class whose start, provisioning, restart and stop share the state of one child process;
how that child dies with the server and stops quickly is ``child``'s.

It runs as a separate program, never in the server's process: it is pure Python above WiredTiger
and would otherwise share the GIL with the web server. What it keeps in the data directory is
named by ``settings.DataFiles``: its storage, its log, its configuration and its connection URI
with the credentials (see ``credentials``).
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tokens_server.data_files import DataFiles
from tokens_server.embedded.child import die_with_parent, stop_process
from tokens_server.embedded.credentials import (
    authenticates,
    connection_uri,
    new_password,
    provisioning_tls,
    read_password,
    set_password,
    write_uri,
)
from tokens_server.owner_only import (
    UMASK,
    make_private_dir,
    open_private_append,
    tighten_tree,
    write_private_file,
)

_LISTENING = re.compile(rb"secantus listening on [0-9.]+:(\d+)")
_BUSY = b"already being managed by another process"

# Given with --config, which also keeps SecantusDB from reading a secantusd.toml it would
# otherwise find in the working directory, ~/.secantus or /etc/secantus: no file planted there
# may change how this database runs. Authentication is a flag (flags win over the file).
_CONFIG = """\
# Written by tokens-server at every start of its embedded database; edits are overwritten.
[server]
enable_test_commands = false
standalone = false
"""


class EmbeddedDatabaseError(RuntimeError):
    """The embedded database could not be started."""


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
    """A SecantusDB child process keeping its data in ``data_dir``, reachable only with the
    server's credentials.

    ``busy_grace`` is how long a start waits for a storage held by another database process.
    A server killed by SIGKILL leaves its database shutting down for about 2 s; the new server,
    which holds the data directory lock, knows that process is on its way out and waits for it.
    """

    def __init__(self, data_dir: Path, busy_grace: float = 5.0) -> None:
        self.data_dir = data_dir
        files = DataFiles(data_dir)
        self.storage = files.database
        self.log_path = files.database_log
        self.uri_path = files.database_uri
        self.config_path = files.database_config
        self.busy_grace = busy_grace
        # Chosen at start and kept through every restart until ``stop``: it is the port the
        # server's driver knows.
        self.port: int | None = None
        self._password: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        # The port ``_process`` listens on, which differs from ``port`` while provisioning.
        self._listening: int | None = None

    def __repr__(self) -> str:  # never the credentials
        return f"EmbeddedDatabase({str(self.data_dir)!r}, port={self.port})"

    @property
    def uri(self) -> str:
        """The connection URI, credentials included: never print or log it."""
        if self.port is None or self._password is None:
            raise EmbeddedDatabaseError("the embedded database is not running")
        return connection_uri(self.port, self._password)

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def is_down(self) -> bool:
        """Started and not stopped, but no process serves: it died, or a restart failed."""
        return self.port is not None and not self.is_running()

    def exited(self) -> int | None:
        """The exit code of the process that ended without ``stop``; None while it runs, and
        after a restart failed to start one."""
        return None if self._process is None else self._process.poll()

    # A deadline of its own rather than an outer asyncio.timeout: when it passes, the child
    # process must be killed too, and the message must say what happened.
    async def start(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Start on a free port, requiring authentication; return once it takes connections.

        The first start on a data directory (also one from a version without authentication)
        creates the user and the password, kept in ``db.uri``.
        """
        try:
            make_private_dir(self.data_dir)
            tighten_tree(self.data_dir)  # data directories of older versions were readable by all
            write_private_file(self.config_path, _CONFIG)
        except OSError as error:
            raise EmbeddedDatabaseError(
                f"cannot make the data directory {self.data_dir} private: {error.strerror or error}"
            ) from None
        deadline = time.monotonic() + timeout
        try:
            password = read_password(self.uri_path)
            if password is None:
                password = new_password()
                await self._provision(password, deadline)
            port = await self._launch(deadline, 0, authenticated=True)
            if not await authenticates(port, password):
                # db.uri outlived the user it names (the storage was replaced): make it again.
                await self._terminate()
                await self._provision(password, deadline)
                port = await self._launch(deadline, 0, authenticated=True)
        except BaseException:  # also on cancellation: never leave a half-started child behind
            self._kill()
            raise
        self.port, self._password = port, password
        write_uri(self.uri_path, port, password)

    async def restart(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Start again on the same port, so connected clients reconnect on their own."""
        if self.port is None:
            raise EmbeddedDatabaseError("the embedded database was not started")
        self._kill()
        await self._launch(time.monotonic() + timeout, self.port, authenticated=True)

    async def _provision(self, password: str, deadline: float) -> None:
        """Create the user, on a run of the database only our own TLS client can talk to."""
        with provisioning_tls(self.data_dir) as tls:
            port = await self._launch(deadline, 0, authenticated=False, args=tls.database_args())
            try:
                await set_password(tls, port, password)
            finally:
                await self._terminate()  # SIGTERM: the user must reach the disk

    async def _launch(
        self, deadline: float, port: int, *, authenticated: bool, args: list[str] | None = None
    ) -> int:
        """Run the database on ``port`` (0: any free one) and answer the port it listens on,
        waiting up to ``busy_grace`` for a storage another database process still holds."""
        extra = (["--auth"] if authenticated else []) + (args or [])
        busy_until = time.monotonic() + self.busy_grace
        while True:
            try:
                return await self._start_once(deadline, port, extra)
            except _StorageBusy:
                if time.monotonic() >= busy_until:
                    raise
                await asyncio.sleep(0.2)

    async def _start_once(self, deadline: float, port: int, extra: list[str]) -> int:
        log = open_private_append(self.log_path)
        try:
            start_offset = os.lseek(log, 0, os.SEEK_END)
            # Popen rather than asyncio's subprocess: an asyncio process belongs to one event
            # loop, and test fixtures stop the database from another; the fork is quick.
            self._process = subprocess.Popen(  # noqa: S603, ASYNC220 - fixed argv, no shell
                [
                    _executable(),
                    "--config", str(self.config_path),
                    "--host", "127.0.0.1",
                    "--port", str(port),
                    "--storage-path", str(self.storage),
                    "--log-level", "INFO",
                    *extra,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                umask=UMASK,  # its storage files and anything else it creates: owner-only
                preexec_fn=functools.partial(die_with_parent, os.getpid()),
                start_new_session=True,  # Ctrl-C in a terminal goes to the server, which stops us
            )  # fmt: skip
        finally:
            os.close(log)
        try:
            self._listening = await self._wait_for_port(self._process, start_offset, deadline)
            return self._listening
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
        """End the process at once; the port stays, for the restart."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    # ``timeout`` is the grace period before SIGKILL, not a cancellation deadline.
    async def _terminate(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """End the process with SIGTERM so WiredTiger checkpoints; SIGKILL if it hangs."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        await asyncio.to_thread(stop_process, process, self._listening, timeout)

    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Stop cleanly (see ``_terminate``); the database is not restarted after this."""
        self.port = self._password = None
        await self._terminate(timeout)
