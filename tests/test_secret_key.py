"""The secret key with the real ``tokens-server`` process: a start with a key that did not seal
the stored GUIDs fails in one line before serving; ``rotate-secret-key`` reseals them, resumably,
while old and new keys both read."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.server_process import ServerProcess, clean_env

# Each test starts the real server on its own embedded database, some several times.
pytestmark = pytest.mark.slow

ADMIN_KEY = "secret-key-test-admin-0123456789abcdef"
EXIT_WITHIN_S = 60


def _create_tokens(server: ServerProcess, count: int) -> list[str]:
    status, _ = server.request("POST", "/api/v1/scopes", {"name": "ops"})
    assert status in (201, 409)
    guids = []
    for n in range(count):
        body = {"name": f"T{n}", "scopes": ["ops"]}
        status, body = server.request("POST", "/api/v1/tokens", body)
        assert status == 201, body
        guids.append(body["guid"])
    return guids


def _assert_all_read(server: ServerProcess, guids: list[str]) -> None:
    """Every GUID verifies, and a list and a get of each answer it whole."""
    for guid in guids:
        status, body = server.request("POST", "/api/v1/tokens/verify", {"guid": guid})
        assert (status, body["status"]) == (200, "active"), body
        status, token = server.request("GET", f"/api/v1/tokens/{body['token']['id']}")
        assert status == 200 and token["guid"] == guid
    status, page = server.request("GET", "/api/v1/tokens?limit=200")
    assert status == 200 and sorted(t["guid"] for t in page["items"]) == sorted(guids)


def _failed_start(data_dir: Path, **env: str) -> tuple[int, str, str]:
    """Start a server expected to fail; answer its exit code, stdout and stderr."""
    server = ServerProcess.launch(data_dir, admin_key=ADMIN_KEY, env=env)
    try:
        code = server.process.wait(timeout=EXIT_WITHIN_S)
    finally:
        server.stop()
    return code, server.stdout(), server.stderr()


def _rotate(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokens_server", "rotate-secret-key", "--data-dir", str(data_dir),
         *args],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        env=clean_env(**env),
    )  # fmt: skip


@pytest.fixture(scope="module")
def sealed_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[str]]]:
    """A data directory whose database holds tokens sealed by its secret.key."""
    data_dir = tmp_path_factory.mktemp("sealed") / "data"
    with ServerProcess.start(data_dir, admin_key=ADMIN_KEY) as server:
        guids = _create_tokens(server, 2)
    yield data_dir, guids


def _replace(text: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(text)


WRONG_KEY = base64.b64encode(b"w" * 32).decode() + "\n"
BAD_KEY_FILES = {
    "replaced": (_replace(WRONG_KEY), "the stored GUIDs are sealed by key"),
    "truncated": (lambda path: path.write_bytes(path.read_bytes()[:5]), "is malformed"),
    "not base64": (_replace("not base64 at all!\n"), "is malformed"),
    "deleted": (Path.unlink, "no secret key: "),
}


@pytest.mark.parametrize("case", BAD_KEY_FILES, ids=list(BAD_KEY_FILES))
def test_start_with_a_bad_key_file_fails_in_one_line_before_serving(
    sealed_data: tuple[Path, list[str]], case: str
) -> None:
    data_dir, guids = sealed_data
    key_file = data_dir / "secret.key"
    original = key_file.read_bytes()
    spoil, problem = BAD_KEY_FILES[case]
    spoil(key_file)
    try:
        code, out, err = _failed_start(data_dir)
        if case == "deleted":
            assert not key_file.exists()  # no new key over the sealed GUIDs
    finally:
        key_file.write_bytes(original)
        os.chmod(key_file, 0o600)
    _assert_one_line_failure(code, out, err, problem)
    assert original.decode().strip() not in out + err
    with ServerProcess.start(data_dir, admin_key=ADMIN_KEY) as server:  # the right key still works
        _assert_all_read(server, guids)


def test_start_with_another_tokens_secret_key_fails_in_one_line(
    sealed_data: tuple[Path, list[str]],
) -> None:
    data_dir, _ = sealed_data
    other = "a-different-secret-key-0123456789"
    code, out, err = _failed_start(data_dir, TOKENS_SECRET_KEY=other)
    _assert_one_line_failure(code, out, err, "the stored GUIDs are sealed by key")
    assert "the secret key from TOKENS_SECRET_KEY (key id " in err
    assert other not in out + err


def _assert_one_line_failure(code: int, out: str, err: str, problem: str) -> None:
    assert code == 1
    assert "listening on" not in out
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("tokens-server: error:")]
    assert len(errors) == 1 and problem in errors[0], err
    assert err.splitlines()[-1] == errors[0]


def test_rotation_interrupted_then_resumed_keeps_every_guid_readable(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with ServerProcess.start(data_dir, admin_key=ADMIN_KEY) as server:
        guids = _create_tokens(server, 5)
    old_key = (data_dir / "secret.key").read_text()

    first = _rotate(data_dir, "--limit", "2")  # an interrupted rotation: part resealed
    assert first.returncode == 0, first.stderr
    assert "resealed 2 GUIDs" in first.stdout and "3 GUIDs remain" in first.stdout
    assert (data_dir / "secret.key").read_text() == old_key
    assert (data_dir / "secret.key.new").exists()

    # Meanwhile the server reads with both keys, and seals new GUIDs under the new one.
    with ServerProcess.start(data_dir, admin_key=ADMIN_KEY) as server:
        _assert_all_read(server, guids)
        guids += _create_tokens(server, 1)

    second = _rotate(data_dir)
    assert second.returncode == 0, second.stderr
    # The 3 still sealed by the old key, and the new token's lookup hash under the old key.
    assert "resealed 4 GUIDs" in second.stdout and "every GUID is sealed by key" in second.stdout
    new_key = (data_dir / "secret.key").read_text()
    assert new_key != old_key and not (data_dir / "secret.key.new").exists()
    assert stat.S_IMODE(os.stat(data_dir / "secret.key").st_mode) == 0o600
    for key in (old_key, new_key):
        assert key.strip() not in first.stdout + first.stderr + second.stdout + second.stderr

    with ServerProcess.start(data_dir, admin_key=ADMIN_KEY) as server:
        _assert_all_read(server, guids)
    # The old key is gone for good: no stored GUID may be sealed by it any more.
    (data_dir / "secret.key").write_text(old_key)
    code, out, err = _failed_start(data_dir)
    _assert_one_line_failure(code, out, err, "the stored GUIDs are sealed by key")


def test_rotation_refuses_while_the_server_runs(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with ServerProcess.start(data_dir, admin_key=ADMIN_KEY):
        result = _rotate(data_dir)
    assert result.returncode == 1
    assert result.stderr.startswith("tokens-server: error: another tokens-server (pid ")
    assert not (data_dir / "secret.key.new").exists()
