"""A MongoDB given by URI must be a replica set (or a sharded cluster): a standalone server is
refused at start with one line that says how to run a one-node replica set."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.server_process import ServerProcess
from tests.support import ADMIN_KEY
from tokens_server.embedded.process import _executable
from tokens_server.http.state import REPOSITORY
from tokens_server.storage.topology import commits_reach_the_journal

_LISTENING = re.compile(r"secantus listening on 127\.0\.0\.1:(\d+)")
EXIT_WITHIN_S = 60


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[str]:
    """A database that presents itself as a standalone server; answers its URI."""
    log_path = tmp_path / "standalone.log"
    with log_path.open("ab") as log:
        database = subprocess.Popen(
            [_executable(), "--host", "127.0.0.1", "--port", "0", "--standalone",
             "--storage-path", str(tmp_path / "db")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        )  # fmt: skip
    try:
        while not (found := _LISTENING.search(log_path.read_text())):
            assert database.poll() is None, log_path.read_text()
            time.sleep(0.05)
        yield f"mongodb://127.0.0.1:{found[1]}/?directConnection=true"
    finally:
        database.kill()  # nothing reads its data again; SIGTERM would wait 2 s in its accept()
        database.wait(timeout=30)


@pytest.mark.slow
def test_a_standalone_server_is_refused_with_a_way_out(tmp_path: Path, standalone: str) -> None:
    server = ServerProcess.launch(
        tmp_path / "data", admin_key=ADMIN_KEY, env={"TOKENS_MONGO_URI": standalone}
    )
    try:
        code = server.process.wait(timeout=EXIT_WITHIN_S)
    finally:
        server.stop()
    assert code == 1
    [line] = server.stderr().strip().splitlines()
    assert "is a standalone server" in line and "needs a replica set" in line
    assert "--replSet rs0" in line and "rs.initiate()" in line


async def test_the_embedded_database_gets_a_journaled_write_after_each_commit(
    client: TestClient[Any, Any],
) -> None:
    """SecantusDB acknowledges a commit before its journal holds it, so each change is followed
    by a journaled write (the kill test in test_faults shows what is lost without it); a
    database that journals its commits is spared that write."""
    repository = client.app[REPOSITORY]
    assert not await commits_reach_the_journal(repository.db.client)
    assert repository.events.confirm_commits
