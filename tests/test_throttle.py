"""Failed authentication is throttled per client address, across instances, never for valid keys."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import ADMIN, AiohttpClient
from tokens_server.app import create_app
from tokens_server.settings import Settings

WRONG = {"Authorization": "Bearer tk_this-key-was-never-issued-to-anyone"}


async def _instances(
    aiohttp_client: AiohttpClient, settings: Settings, count: int
) -> list[TestClient[Any, Any]]:
    throttled = settings.with_(auth_failure_limit=3, auth_failure_window_s=3600)
    return [await aiohttp_client(create_app(throttled)) for _ in range(count)]


async def test_failures_past_the_limit_get_429_with_retry_after(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    (client,) = await _instances(aiohttp_client, settings, 1)
    statuses = [(await client.get("/api/v1/me", headers=WRONG)).status for _ in range(3)]
    assert statuses == [401, 401, 401]
    response = await client.get("/api/v1/me", headers=WRONG)
    assert response.status == 429
    assert response.content_type == "application/problem+json"
    assert 1 <= int(response.headers["Retry-After"]) <= 3600


async def test_valid_key_is_never_throttled(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    (client,) = await _instances(aiohttp_client, settings, 1)
    for _ in range(5):
        await client.get("/api/v1/me", headers=WRONG)
    response = await client.get("/api/v1/me", headers=ADMIN)
    assert response.status == 200
    assert (await response.json())["name"] == "admin"


async def test_the_count_holds_across_instances_sharing_a_database(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    first, second = await _instances(aiohttp_client, settings, 2)
    assert (await first.get("/api/v1/me", headers=WRONG)).status == 401
    assert (await second.get("/api/v1/me", headers=WRONG)).status == 401
    assert (await first.get("/api/v1/me", headers=WRONG)).status == 401
    assert (await second.get("/api/v1/me", headers=WRONG)).status == 429


async def test_missing_header_is_401_and_not_counted(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    (client,) = await _instances(aiohttp_client, settings, 1)
    for _ in range(5):
        response = await client.get("/api/v1/tokens")
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
