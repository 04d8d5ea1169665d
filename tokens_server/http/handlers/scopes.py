"""/api/v1/scopes"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tokens_server.domain.models import Scope
from tokens_server.http.operations import Call
from tokens_server.http.schemas import ScopeCreate, ScopeListOut, ScopeOut
from tokens_server.http.state import REPOSITORY
from tokens_server.services.scopes import ScopeService


def _service(call: Call[Any]) -> ScopeService:
    return ScopeService(call.request.app[REPOSITORY])


def _scope_out(scope: Scope) -> ScopeOut:
    return ScopeOut(name=scope.name, description=scope.description, created_at=scope.created_at)


async def list_scopes(call: Call[None]) -> web.Response:
    scopes = await _service(call).visible_scopes(call.caller)
    return call.reply(ScopeListOut(items=[_scope_out(s) for s in scopes]))


async def create_scope(call: Call[ScopeCreate]) -> web.Response:
    body = call.input
    scope = await _service(call).create_scope(call.caller, body.name, body.description)
    # Scopes have no GET of their own: their address is the one DELETE takes.
    return call.reply(
        _scope_out(scope), {"Location": call.url_for("delete_scope", name=scope.name)}
    )


async def delete_scope(call: Call[None]) -> web.Response:
    await _service(call).delete_scope(call.caller, call.path["name"])
    return call.reply()
