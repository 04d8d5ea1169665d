"""Who is calling: a Bearer key, looked up by its hash. Wrong keys are counted per client
address in the database; past the limit the address gets 429 until its window ends. A valid key
never touches the counter, so legitimate callers pay nothing for the throttle.
"""

from __future__ import annotations

import math

from aiohttp import web
from aiohttp.typedefs import Handler

from .crypto import hash_api_key
from .errors import TooManyRequests, Unauthorized
from .keys import CALLER, REPOSITORY, SETTINGS
from .models import Caller, utcnow

PUBLIC_PATHS = frozenset({"/api/v1/health", "/api/v1/openapi.json"})


async def authenticate(request: web.Request) -> Caller:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("send your API key as 'Authorization: Bearer <key>'")
    repo = request.app[REPOSITORY]
    user = await repo.users.by_key_hash(hash_api_key(key.strip()))
    if user is None:
        await _count_failure(request)
        raise Unauthorized("the API key is not known; it may have been rotated")
    return Caller(name=user.name, admin=user.admin, scopes=frozenset(user.scopes))


async def _count_failure(request: web.Request) -> None:
    settings = request.app[SETTINGS]
    now = utcnow()
    address = request.remote or "unknown"
    count, window_ends = await request.app[REPOSITORY].auth_failures.add(address, now)
    if count > settings.auth_failure_limit:
        wait = max(1, math.ceil((window_ends - now).total_seconds()))
        raise TooManyRequests(f"too many failed authentications; try again in {wait} s", wait)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path not in PUBLIC_PATHS and request.path.startswith("/api/"):
        request[CALLER] = await authenticate(request)
    return await handler(request)


def caller_of(request: web.Request) -> Caller:
    return request[CALLER]
