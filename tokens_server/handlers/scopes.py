"""/api/v1/scopes"""

from __future__ import annotations

from aiohttp import web

from ..auth import caller_of
from ..parsing import read_body
from ..schemas import ScopeCreate, ScopeListOut, ScopeOut, dump
from ..services.scopes import ScopeService
from ..state import REPOSITORY


def _service(request: web.Request) -> ScopeService:
    return ScopeService(request.app[REPOSITORY])


async def list_scopes(request: web.Request) -> web.Response:
    scopes = await _service(request).visible_scopes(caller_of(request))
    items = [
        ScopeOut(name=s.name, description=s.description, created_at=s.created_at) for s in scopes
    ]
    return web.json_response(dump(ScopeListOut(items=items)))


async def create_scope(request: web.Request) -> web.Response:
    body = await read_body(request, ScopeCreate)
    scope = await _service(request).create_scope(caller_of(request), body.name, body.description)
    out = ScopeOut(name=scope.name, description=scope.description, created_at=scope.created_at)
    return web.json_response(
        dump(out), status=201, headers={"Location": f"/api/v1/scopes/{scope.name}"}
    )


async def delete_scope(request: web.Request) -> web.Response:
    await _service(request).delete_scope(caller_of(request), request.match_info["name"])
    return web.Response(status=204)
