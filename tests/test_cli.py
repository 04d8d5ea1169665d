"""``tokens-server serve`` as a real process: start-up, the data directory lock, signals,
no orphaned database, persistence across restarts and one-line errors for bad values."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.server_process import ServerProcess, clean_env

ADMIN_KEY = "cli-test-admin-key-0123456789abcdef"
# A server stops its database with SIGTERM, which takes about 2 s to checkpoint and exit.
DATABASE_EXIT_S = 10.0


def _database_pids(data_dir: Path) -> list[int]:
    """Live database processes on ``data_dir``'s storage, found by command line in /proc."""
    storage = str(data_dir / "db").encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # exited while we looked
        if b"--storage-path" in argv and storage in argv and state != "Z":
            pids.append(int(entry.name))
    return pids


def _wait_for_no_database(data_dir: Path, within: float = DATABASE_EXIT_S) -> float:
    started = time.monotonic()
    while _database_pids(data_dir):
        assert time.monotonic() - started < within, f"database still running: {data_dir}"
        time.sleep(0.05)
    return time.monotonic() - started


StartServer = Callable[..., ServerProcess]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Starts servers; whatever a test leaves running is killed, and its database awaited."""
    servers: list[ServerProcess] = []

    def start(data_dir: Path = tmp_path / "data", **env: str) -> ServerProcess:
        admin_key = env.pop("TOKENS_ADMIN_KEY", ADMIN_KEY)
        server = ServerProcess.launch(data_dir, admin_key=admin_key, env=env)
        servers.append(server)
        return server.wait_ready()

    yield start
    for server in servers:
        server.stop(signal.SIGKILL)  # a no-op for those the test stopped
    for server in servers:
        # A killed server's database is sent SIGTERM and takes 2 s to exit (see DATABASE_EXIT_S);
        # nothing reads this data again, so it is not waited for.
        for pid in _database_pids(server.data_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _wait_for_no_database(server.data_dir)


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokens_server", *args],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=clean_env(**env), timeout=60,
    )


@pytest.mark.slow
def test_serve_answers_health_and_reports_start_up_time(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server()
    status, body = server.request("GET", "/api/v1/health", key=None)
    elapsed = time.monotonic() - server.started
    assert (status, body["status"], body["database"]) == (200, "ok", "ok")
    print(f"\nstart-up, launch to health 200: {elapsed:.2f} s; server says {server.banner[-1]}")
    # Lists read the database until the tokens are in memory, a moment after start.
    deadline = time.monotonic() + 30
    while body["lists"] != "memory" and time.monotonic() < deadline:
        time.sleep(0.05)
        body = server.request("GET", "/api/v1/health", key=None)[1]
    assert (body["lists"], body["lists_detail"]) == ("memory", "")
    assert server.banner[0] == f"tokens-server listening on http://127.0.0.1:{server.port}"
    assert any(str(tmp_path / "data" / "db") in line for line in server.banner)
    assert any("admin key: TOKENS_ADMIN_KEY" in line for line in server.banner)
    assert ADMIN_KEY not in "\n".join(server.banner) + server.stderr()
    assert len(_database_pids(tmp_path / "data")) == 1


@pytest.mark.slow
def test_random_admin_key_is_written_to_a_private_file_and_never_printed(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server(TOKENS_ADMIN_KEY="")
    key_file = tmp_path / "data" / "admin.key"
    assert f"admin key: {key_file}" in server.banner
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_text().strip()
    assert key not in "\n".join(server.banner) + server.stderr()
    assert server.request("GET", "/api/v1/me", key=key)[0] == 200


@pytest.mark.slow
def test_second_server_on_the_same_data_dir_fails_at_once(
    start_server: StartServer, tmp_path: Path
) -> None:
    first = start_server()
    started = time.monotonic()
    second = _run("serve", "--port", "0", "--data-dir", str(tmp_path / "data"),
                  TOKENS_ADMIN_KEY=ADMIN_KEY)
    elapsed = time.monotonic() - started
    assert second.returncode == 1
    assert second.stderr == (
        f"tokens-server: error: another tokens-server (pid {first.process.pid}) is already "
        f"using the data directory {tmp_path / 'data'}\n"
    )
    assert elapsed < 10  # no waiting on the storage: the lock is taken before anything starts
    assert first.request("GET", "/api/v1/health", key=None)[0] == 200


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_signal_stops_server_and_database_cleanly(
    start_server: StartServer, tmp_path: Path, signum: int
) -> None:
    server = start_server()
    database = _database_pids(tmp_path / "data")
    assert len(database) == 1
    assert server.stop(signum) == 0
    # The server waits for its database: it is gone by the time the server has exited.
    assert _database_pids(tmp_path / "data") == []
    assert "Traceback" not in server.stderr()


@pytest.mark.slow
def test_killed_server_leaves_no_orphaned_database(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server()
    assert len(_database_pids(tmp_path / "data")) == 1
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL
    took = _wait_for_no_database(tmp_path / "data")
    print(f"\ndatabase gone {took:.2f} s after the server was killed")


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["TERM", "KILL"])
def test_data_survives_a_restart(start_server: StartServer, signum: int) -> None:
    first = start_server()
    scope = {"name": "analytics", "description": "kept across restarts"}
    assert first.request("POST", "/api/v1/scopes", scope)[0] == 201
    first.stop(signum)
    # Straight after SIGKILL the old database is still shutting down: the new server waits it out.
    second = start_server()
    status, body = second.request("GET", "/api/v1/scopes")
    assert status == 200
    assert [(s["name"], s["description"]) for s in body["items"]] == [
        ("analytics", "kept across restarts")
    ]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--port", "x"], {}, "argument --port: must be a port number, not 'x'"),
        (["--port", "70000"], {}, "argument --port: must be between 0 and 65535, not 70000"),
        ([], {"TOKENS_PORT": "eighty"}, "TOKENS_PORT must be a port number, not 'eighty'"),
        (["--db", "a.b"], {}, "database name 'a.b' is not a valid MongoDB name"),
        ([], {"TOKENS_ADMIN_KEY": "short"}, "TOKENS_ADMIN_KEY must be at least 32 characters"),
        # A person's choice: 31 characters (accepted before) is too few to leave unthrottled.
        ([], {"TOKENS_ADMIN_KEY": "k" * 31}, "TOKENS_ADMIN_KEY must be at least 32 characters"),
        ([], {"TOKENS_ADMIN_KEY": "a key with spaces in it, long enough"},
         "TOKENS_ADMIN_KEY may hold only visible ASCII characters (no spaces)"),
        ([], {"TOKENS_MAX_IN_FLIGHT": "0"}, "TOKENS_MAX_IN_FLIGHT must be at least 1, not 0"),
        (["--verbose"], {}, "unrecognized arguments: --verbose"),
        (["--mongo-uri", "mongodb://db/", "--mongo-uri-file", __file__], {},
         "argument --mongo-uri-file: not allowed with argument --mongo-uri"),
        (["--mongo-uri-file", "/nonexistent/db.uri"], {},
         "argument --mongo-uri-file: cannot be read: No such file or directory"),
        ([], {"TOKENS_MONGO_URI": "mongodb://db/", "TOKENS_MONGO_URI_FILE": __file__},
         "TOKENS_MONGO_URI and TOKENS_MONGO_URI_FILE are both set; give one"),
    ],
)
def test_bad_values_exit_2_with_one_line(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    result = _run("serve", "--data-dir", str(tmp_path / "data"), *args, **env)
    assert result.returncode == 2
    assert result.stderr.startswith(f"tokens-server: error: {message}")
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "data").exists()  # nothing was started or created


# Runs main() in a fresh interpreter and names which of the server's heavy imports it made.
_IMPORTED_FOR = """
import sys
from tokens_server.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    heavy = ("aiohttp", "pymongo", "tokens_server.serve")
    print(exit.code, *[name for name in heavy if name in sys.modules])
"""


@pytest.mark.parametrize("args", [["--help"], ["serve", "--port", "abc"]])
def test_help_and_bad_values_answer_before_the_server_is_imported(args: list[str]) -> None:
    # Importing the server takes most of a second (1.0 s for a bad flag, 0.16 s without it):
    # a mistyped value, or asking for help, should be answered at once.
    result = subprocess.run(
        [sys.executable, "-c", _IMPORTED_FOR, *args],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=clean_env(), timeout=60,
    )  # fmt: skip
    assert result.stdout.splitlines()[-1] == ("0" if args == ["--help"] else "2")


def test_a_password_on_the_command_line_is_warned_of_and_never_printed(tmp_path: Path) -> None:
    # The database is not there: the server stops at once, after the warning.
    uri = "mongodb://tokens:pass-word-42@127.0.0.1:1/?directConnection=true"
    result = _run(
        "serve", "--mongo-uri", uri, "--data-dir", str(tmp_path), TOKENS_DB_TIMEOUT_MS="200"
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        "tokens-server: warning: the password in --mongo-uri can be read by every local user; "
        "give the URI as TOKENS_MONGO_URI or in a file (--mongo-uri-file)\n"
    )
    assert "pass-word-42" not in result.stdout + result.stderr


def test_missing_command_exits_2() -> None:
    result = _run()
    assert result.returncode == 2
    assert result.stderr.startswith("tokens-server: error: the following arguments are required")


def test_unusable_data_dir_exits_2(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = _run("serve", "--data-dir", str(tmp_path / "file" / "data"))
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"tokens-server: error: cannot use the data directory {tmp_path / 'file' / 'data'}"
    )
    assert result.stderr.count("\n") == 1


@pytest.mark.slow
def test_taken_port_fails_and_stops_the_database(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = _run("serve", "--port", port, "--data-dir", str(tmp_path / "data"),
                      TOKENS_ADMIN_KEY=ADMIN_KEY)
    assert result.returncode == 1
    assert f"tokens-server: error: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert _database_pids(tmp_path / "data") == []
