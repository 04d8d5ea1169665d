"""/api/v1/me and /users"""

from __future__ import annotations

from aiohttp import web

from ..auth import caller_of
from ..models import User
from ..parsing import read_body
from ..schemas import (
    MeOut,
    UserCreate,
    UserListOut,
    UserOut,
    UserPatch,
    UserWithKeyOut,
    dump,
)
from ..services.scopes import ScopeService
from ..services.users import UserService
from ..state import REPOSITORY


def _service(request: web.Request) -> UserService:
    return UserService(request.app[REPOSITORY])


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
    scopes = await ScopeService(request.app[REPOSITORY]).visible_scopes(caller)
    names = [s.name for s in scopes]
    return web.json_response(dump(MeOut(name=caller.name, admin=caller.admin, scopes=names)))


async def list_users(request: web.Request) -> web.Response:
    users = await _service(request).users(caller_of(request))
    return web.json_response(dump(UserListOut(items=[_user_out(u) for u in users])))


async def create_user(request: web.Request) -> web.Response:
    body = await read_body(request, UserCreate)
    user, key = await _service(request).create_user(caller_of(request), body.new_user())
    response = _with_key(user, key, status=201)
    response.headers["Location"] = f"/api/v1/users/{user.name}"
    return response


async def patch_user(request: web.Request) -> web.Response:
    body = await read_body(request, UserPatch)
    user = await _service(request).update_user(
        caller_of(request), request.match_info["name"], body.changes()
    )
    return web.json_response(dump(_user_out(user)))


async def delete_user(request: web.Request) -> web.Response:
    await _service(request).delete_user(caller_of(request), request.match_info["name"])
    return web.Response(status=204)


async def rotate_key(request: web.Request) -> web.Response:
    user, key = await _service(request).rotate_key(caller_of(request), request.match_info["name"])
    return _with_key(user, key, status=200)
