"""A client that goes away mid-body is its own mistake: no 500, no traceback in the log."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.support import ADMIN_KEY


async def _access_line(caplog: pytest.LogCaptureFixture, target: str) -> str:
    """The access log line for ``target``, once the server has written it."""
    for _ in range(500):
        for record in caplog.records:
            if record.name == "aiohttp.access" and target in record.getMessage():
                return record.getMessage()
        await asyncio.sleep(0.01)
    raise AssertionError(f"no access log line for {target}")


async def test_a_body_cut_short_is_a_400_and_logs_no_error(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    head = (
        "POST /api/v1/scopes HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {ADMIN_KEY}\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n"
    )
    loop = asyncio.get_running_loop()
    with socket.create_connection((client.server.host, client.server.port)) as conn:
        await loop.sock_sendall(conn, head.encode() + b'{"name": "ana')
        conn.shutdown(socket.SHUT_RDWR)  # gone before the other 87 bytes

    line = await _access_line(caplog, "POST /api/v1/scopes")
    assert '" 400 ' in line, line
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
