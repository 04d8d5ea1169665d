"""Widget fixtures: the real server (tests/conftest.py) reached over TCP by a real TokensClient."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.support import ADMIN_KEY
from tests.widget.front_end import open_widget
from tokens_widget import TokensClient, TokensWidget

SCOPES = ("analytics", "finance", "ml")


@pytest.fixture
def server_url(client: TestClient[Any, Any]) -> str:
    """Where the test server listens; the test client's own server, on a real port."""
    return str(client.make_url("")).rstrip("/")


@pytest.fixture
async def admin(server_url: str) -> AsyncIterator[TokensClient]:
    async with TokensClient(server_url, ADMIN_KEY) as tokens:
        for scope in SCOPES:
            await tokens.create_scope(scope, f"{scope.title()} jobs")
        yield tokens


@pytest.fixture
async def widget(server_url: str, admin: TokensClient) -> AsyncIterator[TokensWidget]:
    """A widget that has finished its first load."""
    w = open_widget(url=server_url, api_key=ADMIN_KEY)
    await w.settled()
    yield w
    await w.aclose()
