"""After a full run of the real server, none of the GUIDs and keys it handled is in its output.

The server runs as ``python -m tokens_server serve`` on the embedded database. A scenario makes
users and their keys, tokens with GUIDs (given and made), lists with ``guid=``, verifies,
regenerates, rotates keys and makes mistakes with secrets in the URL path, the query, headers and
bodies. Then the server stops, and its stdout, stderr and every log file in its data directory
are searched for each secret in every spelling: none may appear (the first 8 hex digits of a
GUID may, as the access log keeps them to tell requests apart).
"""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.server_process import ServerProcess

# Each test runs the real server on its own embedded database.
pytestmark = pytest.mark.slow

ADMIN_KEY = "output-scan-admin-key-4f8e2b7c9d1a6e3f"


def _output(server: ServerProcess) -> dict[str, str]:
    """Everything the server wrote: stdout, stderr and the log files in its data directory."""
    texts = {"stdout": server.stdout(), "stderr": server.stderr()}
    for path in sorted(server.data_dir.rglob("*")):
        if path.is_file() and ("log" in path.name.lower() or path.suffix == ".out"):
            texts[str(path)] = path.read_text(errors="replace")
    return texts


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess.start(tmp_path / "data", admin_key=ADMIN_KEY) as running:
        yield running


def _expect(answer: tuple[int, Any], status: int) -> Any:
    assert answer[0] == status, answer
    return answer[1]


def _scenario(s: ServerProcess) -> tuple[set[str], set[str]]:
    """Drive every secret-bearing call; answer the GUIDs and keys that went over the wire."""
    guids: set[str] = set()
    keys: set[str] = {ADMIN_KEY}
    for scope in ("analytics", "ops"):
        _expect(s.request("POST", "/api/v1/scopes", {"name": scope}), 201)
    users = "/api/v1/users"
    alice = _expect(s.request("POST", users, {"name": "alice", "scopes": ["analytics"]}), 201)
    bob = _expect(s.request("POST", users, {"name": "bob", "scopes": ["ops"]}), 201)
    keys |= {alice["api_key"], bob["api_key"]}
    alice_key, bob_key = alice["api_key"], bob["api_key"]

    given = str(uuid.uuid4())
    mine = _expect(
        s.request("POST", "/api/v1/tokens",
                  {"name": "Given", "scopes": ["analytics"], "guid": given}, key=alice_key),
        201,
    )  # fmt: skip
    made = _expect(
        s.request(
            "POST", "/api/v1/tokens", {"name": "Made", "scopes": ["analytics"]}, key=alice_key
        ),
        201,
    )
    ops = _expect(s.request("POST", "/api/v1/tokens", {"name": "Ops", "scopes": ["ops"]}), 201)
    guids |= {given, made["guid"], ops["guid"]}
    # A GUID that is already taken: the 409 must not echo it into the log either.
    _expect(s.request("POST", "/api/v1/tokens", {"name": "Twin", "scopes": ["ops"], "guid": given}),
            409)  # fmt: skip

    for guid in (given, given.upper(), given[:13], made["guid"][:8], given.replace("-", "")):
        s.request("GET", f"/api/v1/tokens?guid={quote(guid)}", key=alice_key)
    _expect(s.request("GET", f"/api/v1/tokens?guid={given}&scope=analytics&limit=5"), 200)
    _expect(s.request("GET", f"/api/v1/tokens?name={given}"), 200)

    _expect(s.request("POST", "/api/v1/tokens/verify", {"guid": given}, key=alice_key), 200)
    verdict = _expect(
        s.request("POST", "/api/v1/tokens/verify", {"guid": given, "scopes": ["ops"]}), 200
    )
    assert verdict["status"] == "insufficient_scope"
    _expect(s.request("POST", "/api/v1/tokens/verify", {"guid": ops["guid"]}, key=alice_key), 200)
    stranger = str(uuid.uuid4())
    guids.add(stranger)
    _expect(s.request("POST", "/api/v1/tokens/verify", {"guid": stranger}), 200)

    regenerated = _expect(s.request("POST", f"/api/v1/tokens/{made['id']}/regenerate"), 200)
    guids.add(regenerated["guid"])
    _expect(s.request("POST", "/api/v1/tokens/verify", {"guid": made["guid"]}), 200)
    _expect(s.request("PATCH", f"/api/v1/tokens/{mine['id']}", {"guid": str(uuid.uuid4())}), 200)
    guids.add(_expect(s.request("GET", f"/api/v1/tokens/{mine['id']}"), 200)["guid"])

    rotated = _expect(s.request("POST", "/api/v1/users/alice/key"), 200)
    own = _expect(s.request("POST", "/api/v1/users/bob/key", key=bob_key), 200)
    keys |= {rotated["api_key"], own["api_key"]}
    _expect(s.request("GET", "/api/v1/me", key=alice_key), 401)  # the old key stopped working
    _expect(s.request("GET", "/api/v1/me", key=rotated["api_key"]), 200)

    # Mistakes that put secrets where they do not belong.
    _expect(s.request("GET", f"/api/v1/tokens/{given}"), 404)
    _expect(s.request("DELETE", f"/api/v1/tokens/{given.replace('-', '')}"), 404)
    _expect(s.request("GET", f"/api/v1/tokens?token={given}&key={alice_key}"), 422)
    _expect(s.request("GET", f"/api/v1/tokens?{given}={given}"), 422)
    _expect(s.request("GET", f"/api/v1/users/{alice_key}"), 405)
    _expect(s.request("DELETE", f"/api/v1/users/{ADMIN_KEY}"), 404)
    _expect(s.request("GET", f"/api/v1/tokens?{bob_key}=1"), 422)
    _expect(s.request("POST", f"/api/v1/users/{rotated['api_key']}/key"), 404)
    _expect(s.request("GET", "/api/v1/me", key=given), 401)
    _expect(s.request("GET", "/api/v1/me", key=alice_key + "x"), 401)
    _expect(s.request("GET", f"/api/v1/me?api_key={own['api_key']}", key=None), 401)
    _expect(s.request("POST", "/api/v1/tokens/verify", {"guid": given, "key": bob_key}), 422)
    _expect(s.request("POST", "/api/v1/tokens", {"name": "Bad", "scopes": ["ops"], "guid":
                                                 given.upper()}), 422)  # fmt: skip
    _expect(s.request("PATCH", f"/api/v1/tokens/{mine['id']}", {"name": "x"},
                      headers={"If-Match": given}), 422)  # fmt: skip
    _expect(s.request("GET", "/api/v1/health", key=None), 200)
    return guids, keys


def _spellings(guid: str) -> list[str]:
    """Every way a GUID could be written, less the 8 hex digits the access log may keep."""
    plain = guid.replace("-", "")
    return [guid[8:], plain[8:], guid[8:].upper(), plain[8:].upper(), quote(guid)[8:]]


def test_no_guid_or_key_appears_in_the_server_output(server: ServerProcess) -> None:
    guids, keys = _scenario(server)
    secret_file = next(server.data_dir.glob("*secret*"), None)
    assert server.stop() == 0, server.stderr()

    output = _output(server)
    assert "listening on" in output["stdout"]
    assert any('"GET /api/v1/tokens' in text for text in output.values()), "no access log"
    leaks = []
    for where, text in output.items():
        lowered = text.lower()
        for guid in guids:
            leaks += [(where, "GUID", guid) for s in _spellings(guid) if s.lower() in lowered]
        for key in keys:
            if key in text or key[-16:] in text:
                leaks.append((where, "key", key[:6] + "…"))
        if secret_file is not None:
            master = secret_file.read_text().strip()
            if master in text:
                leaks.append((where, "master secret", secret_file.name))
    assert leaks == []
    assert len(guids) >= 6 and len(keys) >= 5


# ---- malformed requests, sent as raw bytes ---------------------------------------------------


def _send_raw(server: ServerProcess, data: bytes) -> bytes:
    """Send bytes no HTTP client would, answer the status line (empty if the server hung up)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(data)
        answer = b""
        while b"\r\n" not in answer:
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0]


def _malformed(guid: str, key: str) -> list[bytes]:
    """Requests that aiohttp's parser refuses or that carry secrets and control characters in
    odd places: every one is logged somewhere (aiohttp.server, the access log, a 500)."""
    plain = guid.replace("-", "")
    auth = f"Authorization: Bearer {key}"
    lines = [
        f"GET /api/v1/me HTTP/1.1\r\nHost: x\r\n{auth}\x00\r\n\r\n",  # NUL after the key
        f"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_KEY}\x00\r\n\r\n",
        f"GET /api/v1/tokens/{guid}\x01 HTTP/1.1\r\nHost: x\r\n\r\n",  # stray control character
        f"GET /api/v1/tokens/{guid} HTTP/9.9\r\nHost: x\r\n\r\n",
        f"GET /api/v1/tokens/{guid}?q={'a' * 9000} HTTP/1.1\r\nHost: x\r\n\r\n",  # too long
        f"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nX-{auth}\r\n\r\n",  # not a header name
        f"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nBad Header{guid}: {key}\r\n\r\n",
        f"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nX-Long: {key}{'b' * 9000}\r\n\r\n",
        # A GUID split by "/" across path segments, hyphens kept or not.
        f"GET /api/v1/tokens/{guid[:13]}/{guid[13:23]}/{guid[23:]} HTTP/1.1\r\nHost: x\r\n"
        f"{auth}\r\n\r\n",
        f"GET /api/v1/users/{plain[:12]}/{plain[12:24]}/{plain[24:]} HTTP/1.1\r\nHost: x\r\n"
        f"{auth}\r\n\r\n",
        # %0a and friends in the path and in a query key must not start a line of their own.
        f"GET /api/v1/tokens/%0aFORGED-LINE HTTP/1.1\r\nHost: x\r\n{auth}\r\n\r\n",
        f"GET /api/v1/tokens?%0d%0aFORGED-LINE=1 HTTP/1.1\r\nHost: x\r\n{auth}\r\n\r\n",
        "GET /api/v1/nowhere/%E2%80%A8FORGED-LINE HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    raw = [line.encode() for line in lines]
    # An Authorization header that is not UTF-8, on a path holding a GUID (was a 500 logging
    # the path whole).
    raw.append(f"GET /api/v1/tokens/{guid} HTTP/1.1\r\nHost: x\r\n".encode()
               + b"Authorization: Bearer \xff" + key.encode() + b"\r\n\r\n")  # fmt: skip
    return raw


def test_malformed_requests_put_no_secret_or_control_character_in_the_output(
    server: ServerProcess,
) -> None:
    alice = _expect(server.request("POST", "/api/v1/users", {"name": "alice"}), 201)
    guid = str(uuid.uuid4())
    statuses = [_send_raw(server, data) for data in _malformed(guid, alice["api_key"])]
    assert server.stop() == 0, server.stderr()

    assert all(s.startswith(b"HTTP/1.") for s in statuses), statuses
    assert not any(b" 500 " in s for s in statuses), statuses
    output = _output(server)
    stderr = output["stderr"]
    assert "aiohttp.server" in stderr and "/api/v1/tokens" in stderr  # the requests were logged
    plain = guid.replace("-", "")[8:]
    for where, text in output.items():
        squeezed = re.sub(r"-|/|%2d|%2f", "", text.lower())
        assert plain not in squeezed, f"GUID in {where}"
        for key in (ADMIN_KEY, alice["api_key"]):
            assert key[-16:] not in text, f"key in {where}"
        if where in ("stdout", "stderr") or where.endswith(".log"):  # text, not the journal
            assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f\u2028\u2029]", text), where
            assert not re.search(r"^FORGED-LINE", text, re.MULTILINE), where
    assert "Traceback" not in stderr, stderr
