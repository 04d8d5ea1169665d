"""The floors for single-token requests: bare aiohttp apps doing the same indexed lookups.

``/floor``: the one token lookup alone, the floor any design that reads the database per request
stands on. ``/floor-auth``: the caller's key looked up by its hash first. Neither has
decryption, validation or an access log: what the framework and the database cost on their own.
``/bare/me``: a JSON answer with no I/O at all, the framework's own limit. ``/bare/tokens``: a
page of tokens in the list's JSON shape, sliced from a Python list (given once with a PUT), the
least a list page can cost from memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from tokens_server.secrets.crypto import hash_api_key

from . import dataset

TOKENS: web.AppKey[AsyncCollection[dict[str, object]]] = web.AppKey("tokens")
USERS: web.AppKey[AsyncCollection[dict[str, object]]] = web.AppKey("users")
# The listed tokens, as the service's JSON gives them, and the total it gave with them.
LISTED: web.AppKey[dict[str, Any]] = web.AppKey("listed")


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/floor-auth/"):
        key = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if await request.app[USERS].find_one({"key_hash": hash_api_key(key)}) is None:
            raise web.HTTPUnauthorized()
    return await handler(request)


async def get_token(request: web.Request) -> web.Response:
    doc = await request.app[TOKENS].find_one({"_id": ObjectId(request.match_info["token_id"])})
    if doc is None:
        raise web.HTTPNotFound()
    return web.json_response({"id": str(doc["_id"]), "name": doc["name"]})


async def verify(request: web.Request) -> web.Response:
    guid = (await request.json())["guid"]
    lookup = dataset.keyring().current.cipher.lookup_hash(guid)
    doc = await request.app[TOKENS].find_one({"guid_hash": lookup})
    return web.json_response({"valid": doc is not None})


async def bare_me(_: web.Request) -> web.Response:
    return web.json_response({"name": "bench", "admin": False, "scopes": [dataset.CALLER_SCOPE]})


async def bare_tokens(request: web.Request) -> web.Response:
    listed = request.app[LISTED]
    offset = int(request.query.get("offset", "0"))
    limit = int(request.query.get("limit", "50"))
    items = listed["items"][offset : offset + limit]
    return web.json_response(
        {"items": items, "total": listed["total"], "limit": limit, "offset": offset}
    )


async def put_bare_tokens(request: web.Request) -> web.Response:
    """The tokens ``/bare/tokens`` pages through: ``{"items": [...], "total": n}``."""
    request.app[LISTED].update(await request.json())
    return web.Response(status=204)


def create_floor_app(uri: str, db_name: str) -> web.Application:
    async def connection(app: web.Application) -> AsyncIterator[None]:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri, tz_aware=True)
        app[TOKENS] = client[db_name]["tokens"]
        app[USERS] = client[db_name]["users"]
        yield
        await client.close()

    app = web.Application(middlewares=[authenticate], client_max_size=64 * 2**20)
    app[LISTED] = {"items": [], "total": 0}
    app.cleanup_ctx.append(connection)
    for prefix in ("/floor", "/floor-auth"):
        app.router.add_get(f"{prefix}/tokens/{{token_id}}", get_token)
        app.router.add_post(f"{prefix}/verify", verify)
    app.router.add_get("/bare/me", bare_me)
    app.router.add_get("/bare/tokens", bare_tokens)
    app.router.add_put("/bare/tokens", put_bare_tokens)
    return app
