"""The embedded database as a child process of the server, at the level of the operating
system: it dies with the server, even one killed, and it stops cleanly without waiting."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time

_PR_SET_PDEATHSIG = 1

# Loaded in the server, not in the forked child: loading a library between fork and exec can
# deadlock when another thread held the loader's lock at the fork.
_LIBC = ctypes.CDLL(None, use_errno=True)


def die_with_parent(parent_pid: int) -> None:
    """In the child before exec: the kernel sends SIGTERM when the server dies, even by SIGKILL.

    The signal follows the *thread* that forked, so start the database from the thread that lives
    as long as the server (the event loop's). If the server died before the prctl took effect, no
    signal will ever come, hence the ``getppid`` check.
    """
    with contextlib.suppress(AttributeError):
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:
        os._exit(1)


def stop_process(process: subprocess.Popen[bytes], port: int | None, grace: float) -> None:
    """SIGTERM, then knock on ``port`` until it refuses, and SIGKILL after ``grace``.

    On SIGTERM SecantusDB closes its listening socket and waits up to 2 s for its thread blocked
    in accept(), which a close does not wake on Linux but a connection does; each start that
    provisions a user stops a database once, so that wait was most of the start.
    """
    _terminate_main_thread(process)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if port is not None and not _knock(port):
            port = None  # nobody listens any more
        try:
            process.wait(0.02 if port is not None else deadline - time.monotonic())
            return
        except subprocess.TimeoutExpired:
            pass
    process.kill()
    process.wait()


def _terminate_main_thread(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process's main thread, which alone runs Python's signal handlers.

    A signal sent to the process may be taken by any of its threads, and seen (about one stop in
    five, with a knock under way) by one that was running: the main thread, asleep in a lock,
    then never learnt of it and the stop waited for SIGKILL.
    """
    try:
        if _LIBC.tgkill(process.pid, process.pid, signal.SIGTERM) == 0:
            return
    except AttributeError:  # a C library without tgkill
        pass
    process.terminate()


def _knock(port: int) -> bool:
    """Whether a connection to ``port`` on loopback was taken (then closed at once)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False
