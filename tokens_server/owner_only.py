"""Files and directories only their owner can read: the data directory and what lies in it.

The data directory holds the database files (names, scopes, key hashes), the database's log (its
port) and the credentials that open it; no other local user may read any of them.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
# Given to child processes (the database), so whatever they create is owner-only from the start.
UMASK = 0o077


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) and make ``path`` itself owner-only."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)


def tighten_tree(root: Path) -> None:
    """Take group and other permissions away from ``root`` and everything under it.

    For data directories made by older versions, which left them 0755 and their files 0644.
    Symbolic links are left alone (their mode means nothing) and never followed.
    """
    _tighten(root)
    for directory, subdirs, files in os.walk(root):
        for name in [*subdirs, *files]:
            _tighten(Path(directory, name))


def _tighten(path: Path) -> None:
    # A database still shutting down (its server was killed) may remove files meanwhile.
    with contextlib.suppress(FileNotFoundError):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode) or not stat.S_IMODE(mode) & 0o077:
            return
        os.chmod(path, stat.S_IMODE(mode) & ~0o077)


def open_private_append(path: Path) -> int:
    """Open ``path`` for appending, created owner-only; answer the file descriptor."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # an older, looser file keeps its mode through O_CREAT
    return fd


def write_private_file(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step, owner-only at every moment.

    Written to a temporary file beside it and renamed over it, so a reader (a second server
    reading the connection URI) never sees half a file, and a crash leaves the old one.
    """
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
