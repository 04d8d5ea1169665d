"""Users and their API keys, which are stored only as hashes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pymongo import IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from tokens_server.domain.errors import Conflict
from tokens_server.domain.models import Caller, EventAction, User
from tokens_server.storage.events import USER_FIELDS, Change, Draft, EventStore, recorded_changes
from tokens_server.storage.failures import store
from tokens_server.storage.memory import Memory
from tokens_server.storage.transactions import Session

Document = dict[str, Any]
T = TypeVar("T")

# The one document every change that may remove an admin writes; see _keeping_an_admin.
_ADMINS_GUARD = {"_id": "admins"}
# What a caller is made of: authentication reads no more.
_CALLER_FIELDS = {"name": 1, "admin": 1, "scopes": 1}


@store
class UserStore:
    def __init__(
        self,
        users: AsyncCollection[Document],
        guards: AsyncCollection[Document],
        events: EventStore,
        memory: Memory,
    ) -> None:
        self._users = users
        self._guards = guards
        self._events = events
        self._memory = memory

    async def create_indexes(self) -> None:
        await self._users.create_indexes(
            [IndexModel("name", unique=True), IndexModel("key_hash", unique=True)]
        )
        # Made here, not inside a transaction: creating a collection there is not portable.
        await self._guards.update_one(_ADMINS_GUARD, {"$setOnInsert": {"changes": 0}}, upsert=True)

    async def caller_by_key_hash(self, key_hash: str) -> Caller | None:
        """Who holds the key with this hash, as a request's caller."""

        async def read() -> Caller | None:
            doc = await self._users.find_one({"key_hash": key_hash}, _CALLER_FIELDS)
            return None if doc is None else _caller(doc)

        return await self._memory.read_through(
            self._memory.caller(key_hash),
            read,
            lambda ticket, caller: self._memory.keep_caller(ticket, key_hash, caller),
        )

    async def all(self) -> list[User]:
        return [_user(doc) async for doc in self._users.find({}).sort("name", 1)]

    async def create(
        self, name: str, scopes: list[str], admin: bool, key_hash: str, now: datetime, by: str
    ) -> User:
        doc = _new_user(name, scopes, admin, key_hash, now)

        async def create(session: Session) -> tuple[None, Draft]:
            await self._users.insert_one(doc, session=session)
            return None, _created(doc, now, by)

        try:
            await self._events.commit(create)
        except DuplicateKeyError:
            raise Conflict(f"a user named {name!r} exists already") from None
        return _user(doc)

    async def create_if_absent(
        self, name: str, scopes: list[str], admin: bool, key_hash: str, now: datetime, by: str
    ) -> bool:
        """Insert the user unless one of that name exists (safe for several starting instances)."""
        doc = _new_user(name, scopes, admin, key_hash, now)

        async def create(session: Session) -> tuple[bool, Draft | None]:
            result = await self._users.update_one(
                {"name": name},
                {"$setOnInsert": {k: v for k, v in doc.items() if k != "name"}},
                upsert=True,
                session=session,
            )
            if result.upserted_id is None:
                return False, None
            return True, _created(doc | {"_id": result.upserted_id}, now, by)

        return await self._events.commit(create)

    async def update(
        self,
        name: str,
        changes: Document,
        now: datetime,
        by: str,
        action: EventAction = "user.updated",
    ) -> User | None:
        """Apply ``changes``; Conflict when they would take the admin flag from the last admin."""

        async def update(session: Session) -> tuple[Document | None, Draft | None]:
            before = await self._users.find_one_and_update(
                {"name": name},
                {"$set": {**changes, "updated_at": now}},
                return_document=ReturnDocument.BEFORE,
                session=session,
            )
            if before is None:
                return None, None
            after = before | changes | {"updated_at": now}
            changed = recorded_changes(before, after, USER_FIELDS)
            return after, Draft(
                now, by, action, changes=changed, user=name, user_id=str(before["_id"])
            )

        doc = await self._committed(update, may_remove_an_admin=changes.get("admin") is False)
        return None if doc is None else _user(doc)

    async def set_key_hash(self, name: str, key_hash: str, now: datetime, by: str) -> User | None:
        """Replace the user's key: exactly one key works afterwards, the last one set."""
        return await self.update(name, {"key_hash": key_hash}, now, by, "user.key_rotated")

    async def delete(self, name: str, now: datetime, by: str) -> bool:
        """Delete the user; Conflict when it is the last admin."""

        async def delete(session: Session) -> tuple[bool, Draft | None]:
            deleted = await self._users.find_one_and_delete({"name": name}, session=session)
            if deleted is None:
                return False, None
            return True, Draft(now, by, "user.deleted", user=name, user_id=str(deleted["_id"]))

        return await self._committed(delete, may_remove_an_admin=True)

    async def _committed(self, change: Change[T], *, may_remove_an_admin: bool) -> T:
        """Commit ``change`` with its event; undone, with Conflict, if it leaves no admin.

        Checking "another admin remains" is not enough on its own: two admins demoting (or
        deleting) each other run two transactions that each see the other admin on their
        snapshot, write different documents, and both commit, leaving none (write skew). So
        every such change also writes the one guard document: of two concurrent transactions the
        second to write it gets a write conflict, and runs again on a fresh snapshot, where it
        sees the first one's outcome.
        """
        if not may_remove_an_admin:
            return await self._events.commit(change)

        async def keeping_an_admin(session: Session) -> tuple[T, Draft | None]:
            await self._guards.update_one(_ADMINS_GUARD, {"$inc": {"changes": 1}}, session=session)
            outcome = await change(session)
            if await self._users.find_one({"admin": True}, {"_id": 1}, session=session) is None:
                raise Conflict("this would leave no admin; make another user an admin first")
            return outcome

        return await self._events.commit(keeping_an_admin)


def _new_user(name: str, scopes: list[str], admin: bool, key_hash: str, now: datetime) -> Document:
    return {
        "name": name,
        "scopes": scopes,
        "admin": admin,
        "key_hash": key_hash,
        "created_at": now,
        "updated_at": now,
    }


def _created(doc: Document, now: datetime, by: str) -> Draft:
    changes = recorded_changes({}, doc, USER_FIELDS)
    return Draft(
        now, by, "user.created", changes=changes, user=str(doc["name"]), user_id=str(doc["_id"])
    )


def _user(doc: Document) -> User:
    return User(
        id=str(doc["_id"]),
        name=str(doc["name"]),
        scopes=list(doc.get("scopes", [])),
        admin=bool(doc.get("admin", False)),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


def _caller(doc: Document) -> Caller:
    return Caller(
        name=str(doc["name"]),
        admin=bool(doc.get("admin", False)),
        scopes=frozenset(doc.get("scopes", [])),
        user_id=str(doc["_id"]),
    )
