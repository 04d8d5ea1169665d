"""Who is calling: a Bearer key, looked up by its hash."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from .crypto import hash_api_key
from .errors import Unauthorized
from .keys import CALLER, REPOSITORY
from .models import Caller

PUBLIC_PATHS = frozenset({"/api/v1/health", "/api/v1/openapi.json"})


async def authenticate(request: web.Request) -> Caller:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("send your API key as 'Authorization: Bearer <key>'")
    user = await request.app[REPOSITORY].users.by_key_hash(hash_api_key(key.strip()))
    if user is None:
        raise Unauthorized("the API key is not known; it may have been rotated")
    return Caller(name=user.name, admin=user.admin, scopes=frozenset(user.scopes))


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path not in PUBLIC_PATHS and request.path.startswith("/api/"):
        request[CALLER] = await authenticate(request)
    return await handler(request)


def caller_of(request: web.Request) -> Caller:
    return request[CALLER]
