"""Reading ``GET /events/stream`` in tests: messages one by one, comments kept apart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from tests.support import ADMIN

Client = TestClient[Any, Any]
STREAM = "/api/v1/events/stream"
WITHIN_S = 1.0


@dataclass
class Message:
    id: int | None
    kind: str
    data: dict[str, Any]


class Reader:
    """Reads an open stream message by message; comments are kept apart."""

    def __init__(self, response: ClientResponse) -> None:
        self.response = response
        self.comments: list[str] = []

    async def next(self, within: float = WITHIN_S) -> Message | None:
        """The next message, or None when the stream ended."""
        fields: dict[str, str] = {}
        async with asyncio.timeout(within):
            return await self._next(fields)

    async def _next(self, fields: dict[str, str]) -> Message | None:
        while True:
            line = await self.response.content.readline()
            if not line:
                return None
            text = line.decode().rstrip("\n")
            if text.startswith(":"):
                self.comments.append(text[1:].strip())
            elif text:
                name, _, value = text.partition(": ")
                fields[name] = value
            elif fields:
                event_id = fields.get("id")
                return Message(
                    None if event_id is None else int(event_id),
                    fields["event"],
                    json.loads(fields["data"]),
                )

    async def events(self, count: int) -> list[Message]:
        messages = [await self.next() for _ in range(count)]
        assert all(m is not None for m in messages), messages
        return [m for m in messages if m is not None]

    async def nothing_more(self, within: float = 0.3) -> None:
        with pytest.raises(TimeoutError):
            await self.next(within)


@asynccontextmanager
async def open_stream(
    client: Client, headers: dict[str, str] = ADMIN, **params: Any
) -> AsyncIterator[Reader]:
    response = await client.get(STREAM, headers=headers, params=params)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == "text/event-stream"
    reader = Reader(response)
    try:
        yield reader
    finally:
        response.close()
