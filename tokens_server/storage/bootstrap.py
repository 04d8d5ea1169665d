"""Whether the database ever had its first admin made: one document in ``meta``.

The configured (or generated) admin key is used once. Without this record, deleting the user
``admin`` (say, because its key leaked) and restarting with the same environment made it again,
with the leaked key.
"""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.collection import AsyncCollection

from tokens_server.storage.failures import store

Document = dict[str, object]

BOOTSTRAP_ID = "bootstrap"


@store
class BootstrapRecord:
    def __init__(self, meta: AsyncCollection[Document], users: AsyncCollection[Document]) -> None:
        self._meta = meta
        self._users = users

    async def first_start(self, now: datetime) -> bool:
        """True when the database never had an admin: no record and no user.

        A database made before the record existed counts as bootstrapped if it holds any user;
        it is recorded so now, and an admin deleted later stays deleted.
        """
        if await self._meta.find_one({"_id": BOOTSTRAP_ID}) is not None:
            return False
        if await self._users.find_one({}, projection={"_id": 1}) is None:
            return True
        await self.record(now)
        return False

    async def record(self, now: datetime) -> None:
        """Mark the first admin as made (idempotent: several instances may start at once)."""
        await self._meta.update_one(
            {"_id": BOOTSTRAP_ID}, {"$setOnInsert": {"done_at": now}}, upsert=True
        )
