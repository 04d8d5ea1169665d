"""One server per data directory: an exclusive lock held for the server's lifetime."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from tokens_server.data_files import DataFiles
from tokens_server.embedded.process import EmbeddedDatabaseError
from tokens_server.owner_only import FILE_MODE, make_private_dir


class DataDirLocked(EmbeddedDatabaseError):
    """Another server already uses this data directory."""


def lock_data_dir(data_dir: Path) -> IO[str]:
    """Take an exclusive lock on ``data_dir`` for this process's lifetime; fail at once if held."""
    make_private_dir(data_dir)
    fd = os.open(DataFiles(data_dir).lock, os.O_RDWR | os.O_CREAT, FILE_MODE)
    handle = os.fdopen(fd, "r+")
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
