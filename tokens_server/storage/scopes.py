"""Scopes: names that group tokens and users."""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from tokens_server.domain.errors import Conflict
from tokens_server.domain.models import Scope
from tokens_server.storage.events import SCOPE_FIELDS, Draft, EventStore, recorded_changes
from tokens_server.storage.failures import store
from tokens_server.storage.memory import Memory
from tokens_server.storage.transactions import Session

Document = dict[str, object]


@store
class ScopeStore:
    def __init__(
        self,
        scopes: AsyncCollection[Document],
        tokens: AsyncCollection[Document],
        users: AsyncCollection[Document],
        events: EventStore,
        memory: Memory,
    ) -> None:
        self._scopes = scopes
        self._tokens = tokens
        self._users = users
        self._events = events
        self._memory = memory

    async def create_indexes(self) -> None:
        await self._scopes.create_index("name", unique=True)

    async def all(self, names: frozenset[str] | None = None) -> list[Scope]:
        """Every scope, or only those named; sorted by name."""
        # All of them: a deployment has tens or hundreds, and memory keeps the whole list.
        scopes = await self._memory.read_through(
            self._memory.scopes(), self._every_scope, self._memory.keep_scopes
        )
        assert scopes is not None, "a list, maybe empty"
        return [scope for scope in scopes if names is None or scope.name in names]

    async def _every_scope(self) -> list[Scope]:
        return [_scope(doc) async for doc in self._scopes.find({}).sort("name", 1)]

    async def missing(self, names: list[str]) -> list[str]:
        """Those of ``names`` that are not scopes, in the order given."""
        found = {doc["name"] async for doc in self._scopes.find({"name": {"$in": names}})}
        return [name for name in names if name not in found]

    async def create(self, name: str, description: str, now: datetime, by: str) -> Scope:
        doc: Document = {"name": name, "description": description, "created_at": now}

        async def create(session: Session) -> tuple[None, Draft]:
            await self._scopes.insert_one(doc, session=session)
            changes = recorded_changes({}, doc, SCOPE_FIELDS)
            return None, Draft(now, by, "scope.created", changes=changes, scope=name)

        try:
            await self._events.commit(create)
        except DuplicateKeyError:
            raise Conflict(f"a scope named {name!r} exists already") from None
        return _scope(doc)

    async def delete(self, name: str, now: datetime, by: str) -> bool:
        """Delete an unused scope. Raises Conflict while a token or user still holds it."""

        async def delete(session: Session) -> tuple[bool, Draft | None]:
            if await self._tokens.find_one({"scopes": name}, {"_id": 1}, session=session):
                raise Conflict(
                    f"scope {name!r} is still given to tokens; change or delete them first"
                )
            if await self._users.find_one({"scopes": name}, {"_id": 1}, session=session):
                raise Conflict(f"scope {name!r} is still given to users; change them first")
            deleted = await self._scopes.find_one_and_delete({"name": name}, session=session)
            if deleted is None:
                return False, None
            return True, Draft(now, by, "scope.deleted", scope=name)

        return await self._events.commit(delete)


def _scope(doc: Document) -> Scope:
    return Scope(
        name=str(doc["name"]),
        description=str(doc.get("description", "")),
        created_at=doc["created_at"],  # type: ignore[arg-type]
    )
