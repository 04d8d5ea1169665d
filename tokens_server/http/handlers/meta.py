"""/api/v1/health and /api/v1/openapi.json"""

from __future__ import annotations

from aiohttp import web

from tokens_server.domain.errors import StorageError
from tokens_server.http.operations import Call
from tokens_server.http.overload import RETRY_AFTER_S
from tokens_server.http.schemas import HealthOut, dump
from tokens_server.http.state import IN_FLIGHT, OPENAPI, REPOSITORY

HEALTH_TIMEOUT = 1.0


async def health(call: Call[None]) -> web.Response:
    """503 when the database does not answer, or when the server is saturated (then with
    Retry-After): a load balancer should send no more requests for now either way."""
    app = call.request.app
    try:
        await app[REPOSITORY].ping(HEALTH_TIMEOUT)
    except StorageError:
        body = HealthOut(status="unavailable", database="unavailable")
        return web.json_response(dump(body), status=503)
    if app[IN_FLIGHT].saturated:
        body = HealthOut(status="saturated", database="ok")
        headers = {"Retry-After": str(RETRY_AFTER_S)}
        return web.json_response(dump(body), status=503, headers=headers)
    return call.reply(HealthOut(status="ok", database="ok"))


async def openapi(call: Call[None]) -> web.Response:
    return web.json_response(call.request.app[OPENAPI])
