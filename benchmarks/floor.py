"""The floors for single-token requests: bare aiohttp apps doing the same indexed lookups.

``/floor``: the one token lookup alone, as the issue defines the floor. ``/floor-auth``: the
caller's key looked up by its hash first, as every authenticated request must (the service keeps
no credential cache, so a rotated key stops working at once on every instance). Neither has
decryption, validation or an access log: what the framework and the database cost on their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Handler
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from tokens_server.crypto import hash_api_key

from . import dataset

TOKENS: web.AppKey[AsyncCollection[dict[str, object]]] = web.AppKey("tokens")
USERS: web.AppKey[AsyncCollection[dict[str, object]]] = web.AppKey("users")


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


def create_floor_app(uri: str, db_name: str) -> web.Application:
    async def connection(app: web.Application) -> AsyncIterator[None]:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri, tz_aware=True)
        app[TOKENS] = client[db_name]["tokens"]
        app[USERS] = client[db_name]["users"]
        yield
        await client.close()

    app = web.Application(middlewares=[authenticate])
    app.cleanup_ctx.append(connection)
    for prefix in ("/floor", "/floor-auth"):
        app.router.add_get(f"{prefix}/tokens/{{token_id}}", get_token)
        app.router.add_post(f"{prefix}/verify", verify)
    return app
