"""The embedded database opens only to the server's credentials: no other local process can read
or write it, also not while the first start creates those credentials. Long because each way in
an attacker with a local account could try is its own test."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import ssl
import stat
import struct
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bson
import pytest
from pymongo import AsyncMongoClient, MongoClient
from pymongo.errors import OperationFailure

from tests.server_process import ServerProcess
from tests.support import ADMIN_KEY
from tokens_server.embedded import EmbeddedDatabase
from tokens_server.embedded import process as embedded_process
from tokens_server.embedded.child import stop_process
from tokens_server.embedded.credentials import ProvisioningTLS, read_password, write_uri
from tokens_server.embedded.process import _executable

# Each test starts its own embedded database, most of them more than once.
pytestmark = pytest.mark.slow

SECRET = "embedded-auth-test-secret"
UNAUTHORIZED = 13
_LISTENING = re.compile(r"secantus listening on 127\.0\.0\.1:(\d+)")

Client = AsyncMongoClient[dict[str, Any]]


def _client(uri: str) -> Client:
    return AsyncMongoClient(uri, serverSelectionTimeoutMS=3000)


def _bare_uri(port: int) -> str:
    return f"mongodb://127.0.0.1:{port}/?directConnection=true"


def _loose_entries(root: Path) -> list[str]:
    """Everything under ``root`` (itself included) that group or others may use."""
    found = []
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode) and stat.S_IMODE(mode) & 0o077:
            found.append(f"{path.relative_to(root.parent)} {stat.S_IMODE(mode):o}")
    return found


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[EmbeddedDatabase]:
    db = EmbeddedDatabase(tmp_path / "data")
    await db.start()
    try:
        yield db
    finally:
        await db.stop()


async def test_without_the_credentials_nothing_but_the_handshake_runs(
    database: EmbeddedDatabase,
) -> None:
    assert database.port is not None
    owner = _client(database.uri)
    stranger = _client(_bare_uri(database.port))
    try:
        await owner.tokens.users.insert_one({"name": "admin"})
        assert (await stranger.admin.command("hello"))["isWritablePrimary"]
        attempts: dict[str, Any] = {
            "find": stranger.tokens.users.find_one({}),
            "insert": stranger.tokens.users.insert_one({"name": "mallory", "admin": True}),
            "listDatabases": stranger.list_database_names(),
            "createUser": stranger.admin.command("createUser", "mallory", pwd="x", roles=[]),
            "dropDatabase": stranger.drop_database("tokens"),
        }
        for name, attempt in attempts.items():
            with pytest.raises(OperationFailure) as caught:
                await attempt
            assert caught.value.code == UNAUTHORIZED, name
        assert await owner.tokens.users.count_documents({}) == 1
    finally:
        await owner.close()
        await stranger.close()


@pytest.mark.parametrize("user", ["tokens", "root", "admin"])
async def test_a_wrong_password_is_refused(database: EmbeddedDatabase, user: str) -> None:
    assert database.port is not None
    guess = _client(
        f"mongodb://{user}:guessed@127.0.0.1:{database.port}/?directConnection=true"
        "&authSource=admin"
    )
    try:
        with pytest.raises(OperationFailure, match=r"[Aa]uthentication failed"):
            await guess.tokens.users.find_one({})
    finally:
        await guess.close()


async def test_the_uri_file_is_private_and_opens_the_database(
    database: EmbeddedDatabase,
) -> None:
    assert stat.S_IMODE(database.uri_path.stat().st_mode) == 0o600
    client = _client(database.uri_path.read_text().strip())
    try:
        assert (await client.tokens.command("ping"))["ok"] == 1
        await client.tokens.probe.insert_one({"ok": True})
    finally:
        await client.close()
    password = read_password(database.uri_path)
    assert password is not None and len(password) >= 40
    assert password not in database.log_path.read_text()
    assert password not in repr(database)


async def test_a_lost_uri_file_gets_a_new_password(tmp_path: Path) -> None:
    db = EmbeddedDatabase(tmp_path / "data")
    await db.start()
    old_password = read_password(db.uri_path)
    await db.stop()
    db.uri_path.unlink()
    await db.start()
    try:
        assert db.port is not None
        new_password = read_password(db.uri_path)
        assert new_password not in (None, old_password)
        client = _client(db.uri)
        old = _client(
            f"mongodb://tokens:{old_password}@127.0.0.1:{db.port}/?directConnection=true"
            "&authSource=admin"
        )
        try:
            assert (await client.admin.command("ping"))["ok"] == 1
            with pytest.raises(OperationFailure):
                await old.tokens.users.find_one({})
        finally:
            await client.close()
            await old.close()
    finally:
        await db.stop()


async def test_a_uri_file_without_its_user_in_the_storage_makes_the_user(tmp_path: Path) -> None:
    # E.g. the storage was replaced by one from before authentication, db.uri kept.
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_uri(data_dir / "db.uri", 1, "kept-password-0123456789")
    db = EmbeddedDatabase(data_dir)
    await db.start()
    try:
        assert read_password(db.uri_path) == "kept-password-0123456789"
        assert f":{db.port}/" in db.uri_path.read_text()
        client = _client(db.uri)
        try:
            assert (await client.tokens.command("ping"))["ok"] == 1
        finally:
            await client.close()
    finally:
        await db.stop()


def _insert_as_stranger(port: int, ca_file: Path | None) -> str:
    """Send an insert of an admin user over a bare socket (TLS without a client certificate if
    ``ca_file`` is given); answer "inserted" or "refused".

    Bare sockets rather than a driver: a driver closed mid-connect can leave a silent connection
    open, and the database's accept loop waits on a silent connection's TLS handshake.
    """
    insert = {
        "insert": "users", "$db": "tokens",
        "documents": [{"name": "mallory", "admin": True}],
    }  # fmt: skip
    body = struct.pack("<I", 0) + b"\x00" + bson.encode(insert)  # OP_MSG: flags, one document
    message = struct.pack("<iiii", 16 + len(body), 1, 0, 2013) + body
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            if ca_file is None:
                raw.sendall(message)
                answer = raw.recv(65536)
            else:
                context = ssl.create_default_context(cafile=str(ca_file))
                with context.wrap_socket(raw, server_hostname="127.0.0.1") as wrapped:
                    wrapped.sendall(message)
                    answer = wrapped.recv(65536)
        except (ssl.SSLError, ConnectionError):
            return "refused"
    reply = bson.decode(answer[21:]) if len(answer) > 21 else {}
    return "inserted" if reply.get("ok") == 1 and reply.get("n") == 1 else "refused"


async def test_while_the_user_is_made_only_our_own_tls_client_gets_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The provisioning run has no --auth: what stops another process then is the certificate.
    real_set_password = embedded_process.set_password
    outcomes: dict[str, str] = {}

    async def probe_then_set(tls: ProvisioningTLS, port: int, password: str) -> None:
        outcomes["plain"] = _insert_as_stranger(port, None)
        outcomes["tls without a certificate"] = _insert_as_stranger(port, tls.ca_file)
        await real_set_password(tls, port, password)

    monkeypatch.setattr(embedded_process, "set_password", probe_then_set)
    db = EmbeddedDatabase(tmp_path / "data")
    await db.start()
    try:
        assert outcomes == {"plain": "refused", "tls without a certificate": "refused"}
        client = _client(db.uri)
        try:
            assert await client.tokens.users.count_documents({}) == 0
        finally:
            await client.close()
    finally:
        await db.stop()
    assert not list((tmp_path / "data").glob(".provisioning-*")), "certificates left behind"


async def test_a_planted_secantusd_toml_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SecantusDB reads ./secantusd.toml or ~/.secantus/secantusd.toml unless given --config.
    planted = "[server]\nauth = false\nstandalone = true\nenable_test_commands = true\n"
    (tmp_path / "cwd").mkdir()
    (tmp_path / "cwd" / "secantusd.toml").write_text(planted)
    (tmp_path / "home" / ".secantus").mkdir(parents=True)
    (tmp_path / "home" / ".secantus" / "secantusd.toml").write_text(planted)
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    db = EmbeddedDatabase(tmp_path / "data")
    await db.start()
    try:
        client = _client(db.uri)
        try:
            hello = await client.admin.command("hello")
            assert hello.get("setName") == "secantus"  # not standalone
            with pytest.raises(OperationFailure, match=r"no such command"):
                await client.admin.command("configureFailPoint", "failCommand", mode="off")
        finally:
            await client.close()
        assert "secantusd.toml" not in db.log_path.read_text()
    finally:
        await db.stop()


# -- the real server ------------------------------------------------------------------------


def _database_port(data_dir: Path) -> int:
    """The port, as any local process could find it (by scanning, or in an old loose db.log)."""
    ports = _LISTENING.findall((data_dir / "db.log").read_text())
    return int(ports[-1])


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.stop()


def test_a_local_process_cannot_make_itself_admin(
    tmp_path: Path, servers: list[ServerProcess]
) -> None:
    server = ServerProcess.start(tmp_path / "data", admin_key=ADMIN_KEY)
    servers.append(server)
    mallory_key = "mallory-key-0123456789abcdef"
    now = datetime.now(UTC)
    mallory = {
        "name": "mallory", "admin": True, "scopes": [], "created_at": now, "updated_at": now,
        "key_hash": hashlib.sha256(mallory_key.encode()).hexdigest(),
    }  # fmt: skip
    port = _database_port(server.data_dir)
    with MongoClient(_bare_uri(port), serverSelectionTimeoutMS=3000) as m:
        with pytest.raises(OperationFailure) as caught:
            m.tokens.users.insert_one(mallory)
        assert caught.value.code == UNAUTHORIZED
    assert server.request("GET", "/api/v1/tokens", key=mallory_key)[0] == 401
    assert server.request("GET", "/api/v1/tokens")[0] == 200
    assert _loose_entries(server.data_dir) == []
    password = read_password(server.data_dir / "db.uri")
    assert password is not None
    assert password not in server.stdout() + server.stderr()


def _old_data_dir(data_dir: Path, servers: list[ServerProcess]) -> str:
    """A data directory as versions before database authentication left it: a database without
    users, 0755 directories and 0644 files; with a token in it. Answers the token's id."""
    data_dir.mkdir(mode=0o755)
    with (data_dir / "db.log").open("ab") as log:
        database = subprocess.Popen(
            [_executable(), "--host", "127.0.0.1", "--port", "0",
             "--storage-path", str(data_dir / "db"), "--log-level", "INFO"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, umask=0o022,
        )  # fmt: skip
    port: int | None = None  # until it listens
    try:
        while not _LISTENING.search((data_dir / "db.log").read_text()):
            assert database.poll() is None, (data_dir / "db.log").read_text()
            time.sleep(0.05)
        port = _database_port(data_dir)
        uri = _bare_uri(port)
        old = ServerProcess.start(
            data_dir, admin_key=ADMIN_KEY,
            env={"TOKENS_MONGO_URI": uri, "TOKENS_SECRET_KEY": SECRET},
        )  # fmt: skip
        servers.append(old)
        assert old.request("POST", "/api/v1/scopes", {"name": "etl"})[0] == 201
        body = {"name": "Nightly", "scopes": ["etl"]}
        status, token = old.request("POST", "/api/v1/tokens", body)
        assert status == 201, token
        assert old.stop() == 0
    finally:
        # Cleanly, as the server stops its own: SIGTERM, and a knock that ends its wait in accept().
        stop_process(database, port, grace=30)
        assert database.returncode == 0
    for path in [data_dir, *data_dir.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    token_id: str = token["id"]
    return token_id


def test_an_old_data_dir_is_migrated_tightened_and_still_served(
    tmp_path: Path, servers: list[ServerProcess]
) -> None:
    data_dir = tmp_path / "data"
    token_id = _old_data_dir(data_dir, servers)
    assert _loose_entries(data_dir)

    server = ServerProcess.start(data_dir, admin_key=ADMIN_KEY, env={"TOKENS_SECRET_KEY": SECRET})
    servers.append(server)
    status, token = server.request("GET", f"/api/v1/tokens/{token_id}")
    assert (status, token["name"]) == (200, "Nightly")
    assert _loose_entries(data_dir) == []
    with MongoClient(_bare_uri(_database_port(data_dir)), serverSelectionTimeoutMS=3000) as m:
        with pytest.raises(OperationFailure) as caught:
            m.tokens.tokens.find_one({})
        assert caught.value.code == UNAUTHORIZED

    # What the URI file is for: a second instance on the same database, given the file as README
    # says, so that the password is on no command line.
    second = ServerProcess.start(
        tmp_path / "second", admin_key=ADMIN_KEY,
        env={"TOKENS_MONGO_URI_FILE": str(data_dir / "db.uri"), "TOKENS_SECRET_KEY": SECRET},
    )  # fmt: skip
    servers.append(second)
    assert second.request("GET", f"/api/v1/tokens/{token_id}")[1]["name"] == "Nightly"
    password = read_password(data_dir / "db.uri")
    assert password is not None
    for process in (server, second):
        assert password not in process.stdout() + process.stderr()
        command_line = Path(f"/proc/{process.process.pid}/cmdline").read_bytes()
        assert password.encode() not in command_line
