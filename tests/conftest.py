"""Shared fixtures: one real database process per test session, a fresh database per test."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo import MongoClient
from pymongo.database import Database

from tests.support import ADMIN, ADMIN_KEY, UNDECLARED, AiohttpClient, note_if_undeclared
from tokens_server.app import create_app
from tokens_server.embedded import EmbeddedDatabase
from tokens_server.settings import Settings

BROWSER_TESTS = Path(__file__).parent / "browser"


def _run_order(item: pytest.Item) -> int:
    # Browser tests go last: Playwright's sync API keeps an event loop running in this thread
    # from its first use to the session's end, and no asyncio test can run beside it.
    if BROWSER_TESTS in item.path.parents:
        return 1
    return 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_run_order)


async def _check_declared(request: web.Request, response: web.StreamResponse) -> None:
    note_if_undeclared(request.match_info.route.name, response.status)


@pytest.fixture(autouse=True)
def _every_answer_is_declared() -> Iterator[None]:
    UNDECLARED.clear()
    yield
    assert UNDECLARED == [], "answers not declared in the OpenAPI document"


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedDatabase]:
    """A SecantusDB process shared by the whole session, started as the server starts its own:
    requiring authentication, so ``database.uri`` carries the credentials. Its store is a
    temporary directory: provisioning the user restarts the database, which a ``:memory:``
    store would not survive."""
    db = EmbeddedDatabase(tmp_path_factory.mktemp("database"))
    asyncio.run(db.start())
    yield db
    asyncio.run(db.stop())


@pytest.fixture
def settings(database: EmbeddedDatabase, tmp_path: Path) -> Iterator[Settings]:
    """Settings for a server on its own, fresh database; dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    yield Settings(
        mongo_uri=database.uri,
        db_name=name,
        data_dir=tmp_path,
        admin_key=ADMIN_KEY,
        secret_key="test-secret-key-for-guid-encryption",
    )
    with MongoClient(database.uri, serverSelectionTimeoutMS=5000) as mongo:
        mongo.drop_database(name)


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, settings: Settings) -> TestClient[Any, Any]:
    app = create_app(settings)
    app.on_response_prepare.append(_check_declared)
    return await aiohttp_client(app)


@pytest.fixture
def raw_db(database: EmbeddedDatabase, settings: Settings) -> Iterator[Database[dict[str, Any]]]:
    """The test's database, read and written directly (behind the server's back)."""
    with MongoClient(database.uri, serverSelectionTimeoutMS=5000, tz_aware=True) as mongo:
        yield mongo[settings.db_name]


@pytest.fixture
async def make_scope(client: TestClient[Any, Any]) -> Callable[..., Awaitable[str]]:
    async def make(name: str, description: str = "") -> str:
        response = await client.post(
            "/api/v1/scopes", json={"name": name, "description": description}, headers=ADMIN
        )
        assert response.status == 201, await response.text()
        return name

    return make


@pytest.fixture
async def make_user(client: TestClient[Any, Any]) -> Callable[..., Awaitable[dict[str, str]]]:
    """Create a user and answer the Authorization headers that act as it."""

    async def make(name: str, scopes: list[str], admin: bool = False) -> dict[str, str]:
        response = await client.post(
            "/api/v1/users", json={"name": name, "scopes": scopes, "admin": admin}, headers=ADMIN
        )
        assert response.status == 201, await response.text()
        return {"Authorization": f"Bearer {(await response.json())['api_key']}"}

    return make


@pytest.fixture
async def make_token(client: TestClient[Any, Any]) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def make(headers: dict[str, str] = ADMIN, **fields: Any) -> dict[str, Any]:
        response = await client.post("/api/v1/tokens", json=fields, headers=headers)
        assert response.status == 201, await response.text()
        token: dict[str, Any] = await response.json()
        return token

    return make
