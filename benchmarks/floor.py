"""The floor for single-token requests: a bare aiohttp app doing the same one indexed lookup.

No authentication, no decryption, no validation, no access log: what the framework and the
database cost on their own. The service is compared with it at the same concurrency.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from . import dataset

TOKENS: web.AppKey[AsyncCollection[dict[str, object]]] = web.AppKey("tokens")


async def get_token(request: web.Request) -> web.Response:
    doc = await request.app[TOKENS].find_one({"_id": ObjectId(request.match_info["token_id"])})
    if doc is None:
        raise web.HTTPNotFound()
    return web.json_response({"id": str(doc["_id"]), "name": doc["name"]})


async def verify(request: web.Request) -> web.Response:
    guid = (await request.json())["guid"]
    lookup = dataset.cipher().lookup_hash(guid)
    doc = await request.app[TOKENS].find_one({"guid_hash": lookup})
    return web.json_response({"valid": doc is not None})


def create_floor_app(uri: str, db_name: str) -> web.Application:
    async def connection(app: web.Application) -> AsyncIterator[None]:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri, tz_aware=True)
        app[TOKENS] = client[db_name]["tokens"]
        yield
        await client.close()

    app = web.Application()
    app.cleanup_ctx.append(connection)
    app.router.add_get("/floor/tokens/{token_id}", get_token)
    app.router.add_post("/floor/verify", verify)
    return app
