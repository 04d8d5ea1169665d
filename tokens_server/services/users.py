"""Users: only an admin lists, makes, changes or deletes them; anyone may rotate their own key."""

from __future__ import annotations

from dataclasses import dataclass

from tokens_server.domain.errors import Conflict, Forbidden, Invalid, NotFound
from tokens_server.domain.models import Caller, NewUser, User, UserChanges, utcnow
from tokens_server.secrets.crypto import hash_api_key, new_api_key
from tokens_server.services import require_admin
from tokens_server.storage import Repository


@dataclass
class UserService:
    repo: Repository

    async def users(self, caller: Caller) -> list[User]:
        require_admin(caller)
        return await self.repo.users.all()

    async def _check_scopes(self, scopes: list[str]) -> None:
        missing = await self.repo.scopes.missing(scopes)
        if missing:
            raise Invalid.field("scopes", f"unknown scope {', '.join(missing)}")

    async def create_user(self, caller: Caller, new: NewUser) -> tuple[User, str]:
        require_admin(caller)
        await self._check_scopes(new.scopes)
        key = new_api_key()
        user = await self.repo.users.create(
            new.name, new.scopes, new.admin, hash_api_key(key), utcnow(), caller.name
        )
        return user, key

    async def update_user(self, caller: Caller, name: str, change: UserChanges) -> User:
        require_admin(caller)
        changes = change.set_fields()
        if "scopes" in changes:
            await self._check_scopes(changes["scopes"])
        if changes.get("admin") is False and name == caller.name:
            raise Conflict("you cannot take away your own admin rights; ask another admin")
        user = await self.repo.users.update(name, changes, utcnow(), caller.name)
        if user is None:
            raise NotFound(f"there is no user {name!r}")
        return user

    async def delete_user(self, caller: Caller, name: str) -> None:
        require_admin(caller)
        if name == caller.name:
            raise Conflict("you cannot delete yourself; ask another admin")
        if not await self.repo.users.delete(name, utcnow(), caller.name):
            raise NotFound(f"there is no user {name!r}")

    async def rotate_key(self, caller: Caller, name: str) -> tuple[User, str]:
        """A new key for the user (admins: anyone; others: themselves); the old one stops."""
        if not caller.admin and caller.name != name:
            raise Forbidden("only an admin may rotate another user's key")
        key = new_api_key()
        user = await self.repo.users.set_key_hash(name, hash_api_key(key), utcnow(), caller.name)
        if user is None:
            raise NotFound(f"there is no user {name!r}")
        return user, key
