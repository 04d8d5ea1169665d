"""/api/v1/tokens/bulk-revoke and /bulk-delete"""

from __future__ import annotations

from aiohttp import web

from tokens_server.http.handlers.tokens import service
from tokens_server.http.operations import Call
from tokens_server.http.schemas import BulkOut, BulkRequest
from tokens_server.services.bulk import delete_each, revoke_each


async def bulk_revoke(call: Call[BulkRequest]) -> web.Response:
    results = await revoke_each(service(call), call.caller, call.input.ids)
    return call.reply(BulkOut.of(results))


async def bulk_delete(call: Call[BulkRequest]) -> web.Response:
    results = await delete_each(service(call), call.caller, call.input.ids)
    return call.reply(BulkOut.of(results))
