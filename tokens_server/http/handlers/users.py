"""/api/v1/me and /users"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tokens_server.domain.models import User
from tokens_server.http.operations import Call
from tokens_server.http.schemas import (
    MeOut,
    UserCreate,
    UserListOut,
    UserOut,
    UserPatch,
    UserWithKeyOut,
)
from tokens_server.http.state import REPOSITORY
from tokens_server.services.scopes import ScopeService
from tokens_server.services.users import UserService


def _service(call: Call[Any]) -> UserService:
    return UserService(call.request.app[REPOSITORY])


def _user_out(user: User) -> UserOut:
    return UserOut(
        name=user.name,
        scopes=user.scopes,
        admin=user.admin,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


def _with_key(call: Call[Any], user: User, key: str, headers: dict[str, str]) -> web.Response:
    body = UserWithKeyOut(**_user_out(user).model_dump(), api_key=key)
    # The key is shown once: no cache may keep it.
    return call.reply(body, {"Cache-Control": "no-store", **headers})


async def me(call: Call[None]) -> web.Response:
    caller = call.caller
    scopes = await ScopeService(call.request.app[REPOSITORY]).visible_scopes(caller)
    names = [s.name for s in scopes]
    return call.reply(MeOut(name=caller.name, admin=caller.admin, scopes=names))


async def list_users(call: Call[None]) -> web.Response:
    users = await _service(call).users(call.caller)
    return call.reply(UserListOut(items=[_user_out(u) for u in users]))


async def create_user(call: Call[UserCreate]) -> web.Response:
    user, key = await _service(call).create_user(call.caller, call.input.new_user())
    # Users have no GET of their own: their address is the one PATCH and DELETE take.
    return _with_key(call, user, key, {"Location": call.url_for("patch_user", name=user.name)})


async def patch_user(call: Call[UserPatch]) -> web.Response:
    user = await _service(call).update_user(call.caller, call.path["name"], call.input.changes())
    return call.reply(_user_out(user))


async def delete_user(call: Call[None]) -> web.Response:
    await _service(call).delete_user(call.caller, call.path["name"])
    return call.reply()


async def rotate_key(call: Call[None]) -> web.Response:
    user, key = await _service(call).rotate_key(call.caller, call.path["name"])
    return _with_key(call, user, key, {})
