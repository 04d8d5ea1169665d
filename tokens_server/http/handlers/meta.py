"""/api/v1/health and /api/v1/openapi.json"""

from __future__ import annotations

from typing import Literal

from aiohttp import web

from tokens_server.domain.errors import StorageError
from tokens_server.http.operations import Call
from tokens_server.http.overload import RETRY_AFTER_S
from tokens_server.http.schemas import HealthOut, dump
from tokens_server.http.state import IN_FLIGHT, OPENAPI, REPOSITORY
from tokens_server.storage import Repository

HEALTH_TIMEOUT = 1.0


async def health(call: Call[None]) -> web.Response:
    """503 when the database does not answer, or when the server is saturated (then with
    Retry-After): a load balancer should send no more requests for now either way."""
    app = call.request.app
    repo = app[REPOSITORY]
    try:
        await repo.ping(HEALTH_TIMEOUT)
    except StorageError:
        body = _health(repo, "unavailable", "unavailable")
        return web.json_response(dump(body), status=503)
    if app[IN_FLIGHT].saturated:
        headers = {"Retry-After": str(RETRY_AFTER_S)}
        return web.json_response(dump(_health(repo, "saturated")), status=503, headers=headers)
    return call.reply(_health(repo, "ok"))


def _health(
    repo: Repository,
    status: Literal["ok", "unavailable", "saturated"],
    database: Literal["ok", "unavailable"] = "ok",
) -> HealthOut:
    lists = repo.lists
    if lists.answers:
        return HealthOut(status=status, database=database, lists="memory", lists_detail="")
    detail = lists.why or repo.memory.distrusted_because
    return HealthOut(status=status, database=database, lists="database", lists_detail=detail)


async def openapi(call: Call[None]) -> web.Response:
    return web.json_response(call.request.app[OPENAPI]())
