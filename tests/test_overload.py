"""A bound on the requests served at once: past it, 503 with Retry-After at once, and /health
says the server is saturated (and still answers)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from aiohttp.test_utils import TestClient

from tests.support import ADMIN, ADMIN_KEY, AiohttpClient, eventually, problem
from tokens_server.app import create_app
from tokens_server.http.state import REPOSITORY
from tokens_server.settings import Settings

LIMIT = 2


@asynccontextmanager
async def _held(client: TestClient[Any, Any], name: str) -> AsyncIterator[socket.socket]:
    """A request in flight: its body arrives a trickle at a time, the rest when the block ends."""
    body = json.dumps({"name": name}).encode()
    head = (
        "POST /api/v1/scopes HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {ADMIN_KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    loop = asyncio.get_running_loop()
    conn = socket.create_connection((client.server.host, client.server.port))
    conn.setblocking(False)
    try:
        await loop.sock_sendall(conn, head.encode() + body[:3])
        yield conn
        await loop.sock_sendall(conn, body[3:])
        answer = await loop.sock_recv(conn, 4096)
        assert answer.startswith(b"HTTP/1.1 201"), answer[:80]
    finally:
        conn.close()


async def _health(client: TestClient[Any, Any]) -> tuple[int, dict[str, Any]]:
    response = await client.get("/api/v1/health")
    return response.status, await response.json()


async def _until_saturated(client: TestClient[Any, Any]) -> None:
    for _ in range(500):  # the held requests reach their handlers within a few loop turns
        if (await _health(client))[1]["status"] == "saturated":
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the server never said it was saturated")


async def test_past_the_bound_requests_get_503_with_retry_after_and_health_says_so(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(replace(settings, max_in_flight=LIMIT)))
    await eventually(lambda: client.app[REPOSITORY].lists.answers, "lists answer from memory")
    ok = {"status": "ok", "database": "ok", "lists": "memory", "lists_detail": ""}
    assert await _health(client) == (200, ok)
    async with _held(client, "first"), _held(client, "second"):
        await _until_saturated(client)
        refused = await client.get("/api/v1/me", headers=ADMIN)
        body = await problem(refused, 503)
        assert body["type"] == "/problems/overloaded"
        assert int(refused.headers["Retry-After"]) >= 1
        health = await client.get("/api/v1/health")
        assert health.status == 503
        assert await health.json() == {**ok, "status": "saturated"}
        assert int(health.headers["Retry-After"]) >= 1
        assert (await client.get("/api/v1/openapi.json")).status == 200
    # Both held requests completed (201); the slots are free again.
    assert await _health(client) == (200, ok)
    assert (await client.get("/api/v1/me", headers=ADMIN)).status == 200
