"""The OpenAPI document agrees with what is served, and the access log keeps GUIDs out."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient

from tests.support import ADMIN, UNDECLARED, declared_statuses, note_if_undeclared
from tokens_server.app import create_app
from tokens_server.http import access_log
from tokens_server.http.docs import DOCS
from tokens_server.serve import serving
from tokens_server.settings import Settings

Client = TestClient[Any, Any]
METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


async def _document(client: Client) -> dict[str, Any]:
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    document: dict[str, Any] = await response.json()
    return document


def _served(client: Client) -> set[tuple[str, str]]:
    """The routes of the API; the docs pages (``tokens_server.docs``) are for people reading
    the document, not operations in it."""
    routes = {
        (route.method, route.resource.canonical)
        for route in client.app.router.routes()
        if route.resource is not None
    }
    pages = {(method, path) for method, path in routes if path.startswith(DOCS)}
    assert ("GET", DOCS) in pages
    return routes - pages


def _documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


async def test_document_is_openapi_3_1_and_needs_no_key(client: Client) -> None:
    document = await _document(client)
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert document["info"]["title"] and document["info"]["version"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


async def test_every_served_route_is_documented_and_vice_versa(client: Client) -> None:
    document = await _document(client)
    served = _served(client)
    assert len(served) >= 19
    assert served == _documented(document)


async def test_operations_declare_bodies_parameters_and_problems(client: Client) -> None:
    document = await _document(client)
    schemas = document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            names = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert names == set(re.findall(r"{(\w+)}", path)), (method, path)
            for status, response in operation["responses"].items():
                if int(status) >= 400 and path != "/api/v1/health":
                    assert "application/problem+json" in response["content"], (method, path)
            if "requestBody" in operation:
                ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                assert ref.rsplit("/", 1)[1] in schemas
    listing = document["paths"]["/api/v1/tokens"]["get"]
    query = {p["name"] for p in listing["parameters"] if p["in"] == "query"}
    assert query == {
        "name", "guid", "scope", "status", "sort", "limit", "offset", "expires_within",
        "unused_for", "refused_within",
    }  # fmt: skip


async def test_an_undeclared_status_is_caught(client: Client) -> None:
    """The check every test runs at teardown (conftest's ``_every_answer_is_declared``)."""
    assert declared_statuses("get_token") >= {200, 401, 404}
    assert 201 not in declared_statuses("get_token")
    response = await client.get("/api/v1/health")
    assert response.status == 200
    assert UNDECLARED == []
    note_if_undeclared("get_token", 201)
    assert UNDECLARED == ["get_token answered 201"]
    UNDECLARED.clear()


async def test_access_log_never_records_a_full_guid(
    settings: Settings,
    make_scope: Any,
    make_token: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await make_scope("ops")
    token = await make_token(name="Logged", scopes=["ops"])
    guid = token["guid"]
    caplog.set_level(logging.INFO, logger=access_log.LOGGER)
    requests = [
        f"/api/v1/tokens?guid={guid}",
        f"/api/v1/tokens?guid={guid.upper()}&name=x",
        f"/api/v1/tokens?{guid}=1",
        f"/api/v1/tokens/{guid}",
        f"/api/v1/tokens/{guid.replace('-', '')}",
        f"/api/v1/tokens?guid={guid[:20]}",
    ]
    # Served as the command line serves it, with the redacting access logger. The last line is
    # logged after its answer is sent; leaving the block waits for it.
    async with serving(create_app(settings), "127.0.0.1", 0) as addresses:
        base = f"http://127.0.0.1:{addresses[0][1]}"
        async with ClientSession(base, headers=ADMIN) as logged:
            for target in requests:
                async with logged.get(target):
                    pass
            async with logged.post("/api/v1/tokens/verify", json={"guid": guid}):
                pass
    lines = [r.getMessage() for r in caplog.records if r.name == access_log.LOGGER]
    assert len(lines) == len(requests) + 1
    text = "\n".join(lines).lower()
    for secret in (guid, guid.replace("-", ""), guid[9:], guid[:20]):
        assert secret not in text
    assert "/api/v1/tokens?guid=" in text and "/api/v1/tokens/verify" in text
