"""Users and their API keys, which are stored only as hashes."""

from __future__ import annotations

from datetime import datetime

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from ..errors import Conflict
from ..models import User

Document = dict[str, object]


class UserStore:
    def __init__(self, users: AsyncCollection[Document]) -> None:
        self._users = users

    async def create_indexes(self) -> None:
        await self._users.create_index("name", unique=True)
        await self._users.create_index("key_hash", unique=True)

    async def by_key_hash(self, key_hash: str) -> User | None:
        doc = await self._users.find_one({"key_hash": key_hash})
        return None if doc is None else _user(doc)

    async def get(self, name: str) -> User | None:
        doc = await self._users.find_one({"name": name})
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
        doc = await self._users.find_one_and_update(
            {"name": name},
            {"$set": {**changes, "updated_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else _user(doc)

    async def count_admins(self) -> int:
        return await self._users.count_documents({"admin": True})

    async def set_key_hash(self, name: str, key_hash: str, now: datetime) -> User | None:
        """Replace the user's key: exactly one key works afterwards, the last one set."""
        return await self.update(name, {"key_hash": key_hash}, now)

    async def delete(self, name: str) -> bool:
        result = await self._users.delete_one({"name": name})
        return result.deleted_count == 1


def _user(doc: Document) -> User:
    return User(
        name=str(doc["name"]),
        scopes=list(doc.get("scopes", [])),  # type: ignore[call-overload]
        admin=bool(doc.get("admin", False)),
        created_at=doc["created_at"],  # type: ignore[arg-type]
        updated_at=doc["updated_at"],  # type: ignore[arg-type]
    )
