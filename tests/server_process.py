"""``python -m tokens_server serve`` as a child process, for the tests that need the real
command line (its banner, signals, exit code and output), not just the app."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import EllipsisType, TracebackType
from typing import Any

READY_WITHIN_S = 60.0
STOP_WITHIN_S = 30.0
REQUEST_TIMEOUT_S = 10.0


class ServerNotReady(RuntimeError):
    """The server exited, or did not print its "ready in" line in time; carries its stderr."""


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without TOKENS_* settings (a developer's own must not leak
    into a test), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENS_")}
    env.update(extra)
    return env


class ServerProcess:
    """One server on 127.0.0.1 and a free port, its stdout and stderr going to files beside
    ``data_dir`` so that no pipe can fill and block it.

    ``ServerProcess.start(...)`` launches and waits for the banner; ``launch(...)`` does not, for
    a test that times start-up or expects the process to fail. As a context manager it is always
    stopped, killed if SIGTERM does not end it in time.
    """

    def __init__(self, data_dir: Path, admin_key: str, env: Mapping[str, str]) -> None:
        self.data_dir = data_dir
        self.admin_key = admin_key
        self.started = time.monotonic()  # at launch, so start-up time includes Python's own
        # Unique names: a test may run several servers, one after another, on one data directory.
        logs = data_dir.parent / f"{data_dir.name}-server-{time.time_ns()}"
        self.stdout_path = logs.with_suffix(".out")
        self.stderr_path = logs.with_suffix(".err")
        self.banner: list[str] = []
        self.url = ""
        self.port = 0
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tokens_server", "serve", "--host", "127.0.0.1",
                 "--port", "0", "--data-dir", str(data_dir)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                env=clean_env(TOKENS_ADMIN_KEY=admin_key, **env),
            )  # fmt: skip

    @classmethod
    def launch(
        cls, data_dir: Path, *, admin_key: str, env: Mapping[str, str] | None = None
    ) -> ServerProcess:
        """Start the process without waiting; ``env`` adds TOKENS_* settings."""
        return cls(data_dir, admin_key, env or {})

    @classmethod
    def start(
        cls, data_dir: Path, *, admin_key: str, env: Mapping[str, str] | None = None
    ) -> ServerProcess:
        return cls.launch(data_dir, admin_key=admin_key, env=env).wait_ready()

    def wait_ready(self, within: float = READY_WITHIN_S) -> ServerProcess:
        """Wait for the "ready in" line; read the banner and the address it printed.

        Raises ServerNotReady if the process exits first or takes longer than ``within``
        seconds; then it is killed, so a failed start leaves nothing running.
        """
        deadline = time.monotonic() + within
        while not self._read_banner():
            if self.process.poll() is not None:
                raise ServerNotReady(
                    f"tokens-server exited with {self.process.returncode} before it was ready; "
                    f"stderr:\n{self.stderr()}"
                )
            if time.monotonic() > deadline:
                self.stop(signal.SIGKILL)
                raise ServerNotReady(
                    f"tokens-server not ready in {within} s, killed; stderr:\n{self.stderr()}"
                )
            time.sleep(0.05)
        address = next(line for line in self.banner if "listening on" in line)
        self.url = address.split()[-1]
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def _read_banner(self) -> bool:
        # Only whole lines: the last one may be half written.
        lines = [line.strip() for line in self.stdout().split("\n")[:-1]]
        for end, line in enumerate(lines, 1):
            if line.startswith("ready in"):
                self.banner = lines[:end]
                return True
        return False

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        key: str | EllipsisType | None = ...,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """One JSON request; answers the status and the decoded body (None if empty).

        ``key``: ``...`` sends the admin key the server was started with, None no key at all.
        """
        if key is ...:
            key = self.admin_key
        sent = {"Content-Type": "application/json", **(headers or {})}
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S)
        try:
            payload = None if body is None else json.dumps(body)
            connection.request(method, path, body=payload, headers=sent)
            response = connection.getresponse()
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
        finally:
            connection.close()

    def stop(self, signum: int = signal.SIGTERM, timeout: float = STOP_WITHIN_S) -> int:
        """Send ``signum`` unless it has exited already, wait, and answer the exit code (-N for
        signal N). Killed if it does not exit in ``timeout`` seconds."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        return self.process.returncode

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
