"""Scopes: any caller may list those it holds; only an admin makes or deletes one."""

from __future__ import annotations

from dataclasses import dataclass

from tokens_server.domain.errors import NotFound
from tokens_server.domain.models import Caller, Scope, utcnow
from tokens_server.services import require_admin
from tokens_server.storage import Repository


@dataclass
class ScopeService:
    repo: Repository

    async def visible_scopes(self, caller: Caller) -> list[Scope]:
        return await self.repo.scopes.all(None if caller.admin else caller.scopes)

    async def create_scope(self, caller: Caller, name: str, description: str) -> Scope:
        require_admin(caller)
        return await self.repo.scopes.create(name, description, utcnow(), caller.name)

    async def delete_scope(self, caller: Caller, name: str) -> None:
        require_admin(caller)
        if not await self.repo.scopes.delete(name, utcnow(), caller.name):
            raise NotFound(f"there is no scope {name!r}")
