"""``TokensClient``'s calls on who may call: the caller itself, scopes, and users with their
API keys."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..models import Scope, User, UserWithKey
from .calls import UNSET, Calls, _Unset, path_segment


class AccountCalls(Calls):
    """Caller, scope and user operations of ``TokensClient``."""

    async def me(self) -> User:
        """Who the API key belongs to: name, admin flag, scopes."""
        return User.model_validate(await self._call("GET", "/me"))

    # --- scopes --------------------------------------------------------------------------

    async def list_scopes(self) -> list[Scope]:
        """The caller's scopes (an admin's: all of them)."""
        body = await self._call("GET", "/scopes")
        return [Scope.model_validate(item) for item in body["items"]]

    async def create_scope(self, name: str, description: str = "") -> Scope:
        body = {"name": name, "description": description}
        return Scope.model_validate(await self._call("POST", "/scopes", json=body))

    async def delete_scope(self, name: str) -> None:
        await self._call("DELETE", f"/scopes/{path_segment(name)}")

    # --- users ---------------------------------------------------------------------------

    async def list_users(self) -> list[User]:
        body = await self._call("GET", "/users")
        return [User.model_validate(item) for item in body["items"]]

    async def create_user(
        self, name: str, scopes: Iterable[str] = (), *, admin: bool = False
    ) -> UserWithKey:
        """Create a user; its API key is in the answer and never shown again."""
        body = {"name": name, "scopes": list(scopes), "admin": admin}
        return UserWithKey.model_validate(await self._call("POST", "/users", json=body))

    async def update_user(
        self,
        name: str,
        *,
        scopes: Iterable[str] | _Unset = UNSET,
        admin: bool | _Unset = UNSET,
    ) -> User:
        body: dict[str, Any] = {}
        if not isinstance(scopes, _Unset):
            body["scopes"] = list(scopes)
        if not isinstance(admin, _Unset):
            body["admin"] = admin
        path = f"/users/{path_segment(name)}"
        return User.model_validate(await self._call("PATCH", path, json=body))

    async def delete_user(self, name: str) -> None:
        await self._call("DELETE", f"/users/{path_segment(name)}")

    async def rotate_user_key(self, name: str) -> UserWithKey:
        """Give the user a new API key; the old one stops working at once."""
        path = f"/users/{path_segment(name)}/key"
        return UserWithKey.model_validate(await self._call("POST", path))
