"""/api/v1/me, /scopes and /users"""

from __future__ import annotations

from aiohttp import web

from ..admin_service import AdminService
from ..auth import caller_of
from ..keys import REPOSITORY
from ..models import User
from ..parsing import read_body
from ..schemas import (
    MeOut,
    ScopeCreate,
    ScopeListOut,
    ScopeOut,
    UserCreate,
    UserListOut,
    UserOut,
    UserPatch,
    UserWithKeyOut,
    dump,
)


def _service(request: web.Request) -> AdminService:
    return AdminService(request.app[REPOSITORY])


def _user_out(user: User) -> UserOut:
    return UserOut(
        name=user.name,
        scopes=user.scopes,
        admin=user.admin,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


def _with_key(user: User, key: str, status: int) -> web.Response:
    body = UserWithKeyOut(**_user_out(user).model_dump(), api_key=key)
    # The key is shown once: no cache may keep it.
    return web.json_response(dump(body), status=status, headers={"Cache-Control": "no-store"})


async def me(request: web.Request) -> web.Response:
    caller = caller_of(request)
    scopes = [s.name for s in await _service(request).visible_scopes(caller)]
    return web.json_response(dump(MeOut(name=caller.name, admin=caller.admin, scopes=scopes)))


async def list_scopes(request: web.Request) -> web.Response:
    scopes = await _service(request).visible_scopes(caller_of(request))
    items = [
        ScopeOut(name=s.name, description=s.description, created_at=s.created_at) for s in scopes
    ]
    return web.json_response(dump(ScopeListOut(items=items)))


async def create_scope(request: web.Request) -> web.Response:
    body = await read_body(request, ScopeCreate)
    scope = await _service(request).create_scope(caller_of(request), body)
    out = ScopeOut(name=scope.name, description=scope.description, created_at=scope.created_at)
    return web.json_response(
        dump(out), status=201, headers={"Location": f"/api/v1/scopes/{scope.name}"}
    )


async def delete_scope(request: web.Request) -> web.Response:
    await _service(request).delete_scope(caller_of(request), request.match_info["name"])
    return web.Response(status=204)


async def list_users(request: web.Request) -> web.Response:
    users = await _service(request).users(caller_of(request))
    return web.json_response(dump(UserListOut(items=[_user_out(u) for u in users])))


async def create_user(request: web.Request) -> web.Response:
    body = await read_body(request, UserCreate)
    user, key = await _service(request).create_user(caller_of(request), body)
    response = _with_key(user, key, status=201)
    response.headers["Location"] = f"/api/v1/users/{user.name}"
    return response


async def patch_user(request: web.Request) -> web.Response:
    body = await read_body(request, UserPatch)
    user = await _service(request).update_user(caller_of(request), request.match_info["name"], body)
    return web.json_response(dump(_user_out(user)))


async def delete_user(request: web.Request) -> web.Response:
    await _service(request).delete_user(caller_of(request), request.match_info["name"])
    return web.Response(status=204)


async def rotate_key(request: web.Request) -> web.Response:
    user, key = await _service(request).rotate_key(caller_of(request), request.match_info["name"])
    return _with_key(user, key, status=200)
