"""Users and their API keys, which are stored only as hashes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

import pymongo
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from ..errors import Conflict
from ..models import User
from .failures import store

Document = dict[str, object]
T = TypeVar("T")
Session = AsyncClientSession | None

# The one document every change that may remove an admin writes; see _keeping_an_admin.
_ADMINS_GUARD = {"_id": "admins"}


@store
class UserStore:
    def __init__(self, users: AsyncCollection[Document], guards: AsyncCollection[Document]) -> None:
        self._users = users
        self._guards = guards

    async def create_indexes(self) -> None:
        await self._users.create_index("name", unique=True)
        await self._users.create_index("key_hash", unique=True)
        # Made here, not inside a transaction: creating a collection there is not portable.
        await self._guards.update_one(_ADMINS_GUARD, {"$setOnInsert": {"changes": 0}}, upsert=True)

    async def by_key_hash(self, key_hash: str) -> User | None:
        doc = await self._users.find_one({"key_hash": key_hash})
        return None if doc is None else _user(doc)

    async def all(self) -> list[User]:
        return [_user(doc) async for doc in self._users.find({}).sort("name", 1)]

    async def create(
        self, name: str, scopes: list[str], admin: bool, key_hash: str, now: datetime
    ) -> User:
        doc: Document = {
            "name": name,
            "scopes": scopes,
            "admin": admin,
            "key_hash": key_hash,
            "created_at": now,
            "updated_at": now,
        }
        try:
            await self._users.insert_one(doc)
        except DuplicateKeyError:
            raise Conflict(f"a user named {name!r} exists already") from None
        return _user(doc)

    async def create_if_absent(
        self, name: str, scopes: list[str], admin: bool, key_hash: str, now: datetime
    ) -> bool:
        """Insert the user unless one of that name exists (safe for several starting instances)."""
        result = await self._users.update_one(
            {"name": name},
            {
                "$setOnInsert": {
                    "scopes": scopes,
                    "admin": admin,
                    "key_hash": key_hash,
                    "created_at": now,
                    "updated_at": now,
                }
            },
            upsert=True,
        )
        return result.upserted_id is not None

    async def update(self, name: str, changes: Document, now: datetime) -> User | None:
        """Apply ``changes``; Conflict when they would take the admin flag from the last admin."""
        if changes.get("admin") is False:
            return await self._keeping_an_admin(
                lambda session: self._update(name, changes, now, session)
            )
        return await self._update(name, changes, now, None)

    async def _update(
        self, name: str, changes: Document, now: datetime, session: Session
    ) -> User | None:
        doc = await self._users.find_one_and_update(
            {"name": name},
            {"$set": {**changes, "updated_at": now}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return None if doc is None else _user(doc)

    async def _keeping_an_admin(self, change: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
        """Run ``change`` in a transaction that is undone, with Conflict, if it leaves no admin.

        Checking "another admin remains" is not enough on its own: two admins demoting (or
        deleting) each other run two transactions that each see the other admin on their
        snapshot, write different documents, and both commit, leaving none (write skew). So
        every such change also writes the one guard document: of two concurrent transactions the
        second to write it gets a write conflict, and pymongo runs it again on a fresh snapshot,
        where it sees the first one's outcome. The retries are bounded by the client's timeout.
        """
        client = self._users.database.client

        async def attempt(session: AsyncClientSession) -> T:
            await self._guards.update_one(_ADMINS_GUARD, {"$inc": {"changes": 1}}, session=session)
            result = await change(session)
            if await self._users.find_one({"admin": True}, {"_id": 1}, session=session) is None:
                raise Conflict("this would leave no admin; make another user an admin first")
            return result

        with pymongo.timeout(client.options.timeout):
            async with client.start_session() as session:
                # Journaled like every other write: a transaction does not take the
                # collection's write concern, only its own.
                return await session.with_transaction(
                    attempt, write_concern=self._users.write_concern
                )

    async def set_key_hash(self, name: str, key_hash: str, now: datetime) -> User | None:
        """Replace the user's key: exactly one key works afterwards, the last one set."""
        return await self.update(name, {"key_hash": key_hash}, now)

    async def delete(self, name: str) -> bool:
        """Delete the user; Conflict when it is the last admin."""

        async def delete(session: AsyncClientSession) -> bool:
            result = await self._users.delete_one({"name": name}, session=session)
            return result.deleted_count == 1

        return await self._keeping_an_admin(delete)


def _user(doc: Document) -> User:
    return User(
        name=str(doc["name"]),
        scopes=list(doc.get("scopes", [])),  # type: ignore[call-overload]
        admin=bool(doc.get("admin", False)),
        created_at=doc["created_at"],  # type: ignore[arg-type]
        updated_at=doc["updated_at"],  # type: ignore[arg-type]
    )
