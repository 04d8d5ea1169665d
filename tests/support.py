"""What the tests share besides fixtures: the admin's key, timestamps, problem checks, edits
behind the server's back, waiting for a condition."""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient
from bson import ObjectId
from pymongo.database import Database

from tokens_server.app import create_app
from tokens_server.embedded import EmbeddedDatabase
from tokens_server.http.openapi import openapi_document
from tokens_server.http.routes import OPERATIONS
from tokens_server.http.state import REPOSITORY
from tokens_server.settings import Settings
from tokens_server.storage.listed import Listed

PROBLEM_JSON = "application/problem+json"
ADMIN_KEY = "test-admin-key-0123456789abcdef-0123"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
# aiohttp's HTTP parser refuses a URL over this many bytes with a plain-text 400 before any of
# our code runs (the log says so in one line: tokens_server/logs.py).
MAX_LINE = 8190

AiohttpClient = Callable[..., Awaitable[TestClient[Any, Any]]]


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]], what: str, within: float = 10.0
) -> None:
    """Return once ``condition()`` holds (awaited if it is a coroutine); fail naming ``what`` if
    it does not within ``within`` seconds (generous: these machines are shared, and a deadline
    is not a timing to assert)."""
    deadline = time.monotonic() + within
    while True:
        held = condition()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        assert time.monotonic() < deadline, f"not within {within} s: {what}"
        await asyncio.sleep(0.01)


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """RFC 3339 with a Z, as a client would send it."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse(text: str) -> datetime:
    assert text.endswith("Z"), f"{text!r} is not answered in UTC with a Z"
    return datetime.fromisoformat(text)


def in_(**delta: float) -> str:
    """A timestamp this far from now, e.g. ``in_(days=1)`` or ``in_(minutes=-2)``."""
    return iso(now() + timedelta(**delta))


async def problem(
    response: ClientResponse, status: int, field: str | None = None
) -> dict[str, Any]:
    """Assert a problem+json answer with ``status`` (naming ``field`` if given); answer its body."""
    text = await response.text()
    assert response.status == status, f"{response.status} != {status}: {text}"
    assert response.content_type == PROBLEM_JSON, response.content_type
    body: dict[str, Any] = await response.json(content_type=None)
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    assert "Traceback" not in text
    if field is not None:
        fields = [error["field"] for error in body.get("errors", [])]
        assert field in fields, f"{field!r} not in {fields}: {text}"
    return body


async def set_raw(
    client: TestClient[Any, Any], raw_db: Database[dict[str, Any]], token_id: str, **fields: Any
) -> None:
    """Change a stored token behind the server's back, e.g. to move its dates into the past;
    return once the server's change stream has made its memory forget the token."""
    result = raw_db["tokens"].update_one({"_id": ObjectId(token_id)}, {"$set": fields})
    assert result.matched_count == 1
    memory = client.app[REPOSITORY].memory
    await eventually(lambda: not memory.holds_token(token_id), "memory forgets the token")
    await lists_settled(client, raw_db)


async def lists_settled(client: TestClient[Any, Any], raw_db: Database[dict[str, Any]]) -> None:
    """Return once the server's list memory answers and holds every stored token as stored:
    after writes behind the server's back, which its change stream brings a moment later."""
    lists = client.app[REPOSITORY].lists

    def settled() -> bool:
        stored = {str(doc["_id"]): Listed.of(doc) for doc in raw_db["tokens"].find()}
        return lists.answers and lists.rows() == stored

    await eventually(settled, "the list memory holds every token as stored")


async def expire(
    client: TestClient[Any, Any], raw_db: Database[dict[str, Any]], token_id: str
) -> None:
    """Make a token expired, as if its valid_to had passed an hour ago."""
    past = now() - timedelta(hours=2)
    await set_raw(client, raw_db, token_id, valid_from=past, valid_to=past + timedelta(hours=1))


@functools.cache
def declared_statuses(operation_id: str) -> frozenset[int]:
    """The statuses the served OpenAPI document declares for an operation."""
    (op,) = (op for op in OPERATIONS if op.operation_id == operation_id)
    responses = openapi_document(OPERATIONS)["paths"][op.template][op.method.lower()]["responses"]
    return frozenset(int(status) for status in responses)


# Answers a `client` gave during the current test with a status its operation does not declare
# in the OpenAPI document; every test fails on them at teardown, whatever it asserted itself.
UNDECLARED: list[str] = []


def note_if_undeclared(operation_id: str | None, status: int) -> None:
    if operation_id is not None and status not in declared_statuses(operation_id):
        UNDECLARED.append(f"{operation_id} answered {status}")


async def _check_declared(request: web.Request, response: web.StreamResponse) -> None:
    note_if_undeclared(request.match_info.route.name, response.status)


def fresh_settings(database: EmbeddedDatabase, data_dir: Path) -> Settings:
    """Settings for a server on its own, fresh database (the caller drops it)."""
    return Settings(
        mongo_uri=database.uri,
        db_name=f"t_{uuid.uuid4().hex[:16]}",
        data_dir=data_dir,
        admin_key=ADMIN_KEY,
        secret_key="test-secret-key-for-guid-encryption",
    )


def checked_app(settings: Settings) -> web.Application:
    """The server's app, each answer checked against the OpenAPI document."""
    app = create_app(settings)
    app.on_response_prepare.append(_check_declared)
    return app
