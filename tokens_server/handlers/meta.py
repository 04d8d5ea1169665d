"""/api/v1/health and /api/v1/openapi.json"""

from __future__ import annotations

import asyncio

from aiohttp import web
from pymongo.errors import PyMongoError

from ..keys import REPOSITORY
from ..openapi import openapi_document
from ..schemas import HealthOut, dump

HEALTH_TIMEOUT = 1.0


async def health(request: web.Request) -> web.Response:
    try:
        await asyncio.wait_for(request.app[REPOSITORY].ping(), HEALTH_TIMEOUT)
    except (TimeoutError, PyMongoError):
        body = HealthOut(status="unavailable", database="unavailable")
        return web.json_response(dump(body), status=503)
    return web.json_response(dump(HealthOut(status="ok", database="ok")))


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())
