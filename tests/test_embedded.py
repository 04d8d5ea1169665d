"""The embedded database: the data directory lock, start and stop, and what a failed start says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from tokens_server.embedded import (
    DataDirLocked,
    EmbeddedDatabase,
    EmbeddedDatabaseError,
    lock_data_dir,
)

# Takes the lock in another process, reports it, and holds it until its stdin closes.
_HOLD_LOCK = """
import sys
from pathlib import Path
from tokens_server.embedded import lock_data_dir
handle = lock_data_dir(Path(sys.argv[1]))
print("locked", flush=True)
sys.stdin.read()
"""


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_lock_writes_pid_and_is_released_on_close(tmp_path: Path) -> None:
    handle = lock_data_dir(tmp_path / "data")
    assert (tmp_path / "data" / "server.lock").read_text() == str(os.getpid())
    handle.close()
    lock_data_dir(tmp_path / "data").close()


def test_second_lock_fails_at_once_naming_the_holder(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(DataDirLocked) as caught:
            lock_data_dir(tmp_path)
        message = str(caught.value)
        assert f"pid {holder.pid}" in message
        assert str(tmp_path) in message
    finally:
        holder.communicate("", timeout=10)


@pytest.mark.slow
async def test_start_answers_and_stop_ends_the_process(tmp_path: Path) -> None:
    db = EmbeddedDatabase(tmp_path)
    await db.start()
    pid = db.pid
    assert pid is not None and db.is_running()
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        db.uri, serverSelectionTimeoutMS=2000
    )
    try:
        assert (await client.admin.command("ping"))["ok"] == 1
    finally:
        await client.close()
    await db.stop()
    assert not db.is_running() and db.pid is None
    assert _gone(pid)
    with pytest.raises(EmbeddedDatabaseError, match="not running"):
        _ = db.uri
    await db.stop()  # stopping twice is harmless


@pytest.mark.slow
async def test_busy_storage_is_explained_not_traced(tmp_path: Path) -> None:
    first = EmbeddedDatabase(tmp_path)
    await first.start()
    try:
        second = EmbeddedDatabase(tmp_path, busy_grace=0)
        with pytest.raises(EmbeddedDatabaseError) as caught:
            await second.start()
        assert "already in use by another process" in str(caught.value)
        assert "Traceback" not in str(caught.value)
        assert not second.is_running()
    finally:
        await first.stop()


@pytest.mark.slow
async def test_busy_storage_is_taken_over_once_the_old_process_exits(tmp_path: Path) -> None:
    # What a restart right after `kill -9` of the server sees: the old database still shutting down.
    old = EmbeddedDatabase(tmp_path)
    await old.start()
    old_process = old._process
    assert old_process is not None
    old_process.terminate()  # about 2 s to exit, well inside the grace
    new = EmbeddedDatabase(tmp_path, busy_grace=10)
    try:
        await new.start()
        assert new.is_running()
        assert old_process.wait(timeout=5) == 0
    finally:
        await new.stop()
        await old.stop()


async def test_unusable_storage_names_the_log(tmp_path: Path) -> None:
    (tmp_path / "db").write_text("")  # where the storage directory belongs
    db = EmbeddedDatabase(tmp_path)
    with pytest.raises(EmbeddedDatabaseError) as caught:
        await db.start()
    assert str(tmp_path / "db.log") in str(caught.value)
    assert not db.is_running()
