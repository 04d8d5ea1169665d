"""What the database records about secret keys: the ids of the keys that may have sealed a
stored GUID, in the ``meta`` document ``secret_keys``. Key ids are one-way check values: the
database never holds a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from tokens_server.storage.failures import store

Document = dict[str, Any]

_ID = "secret_keys"


@dataclass(frozen=True)
class SealedSample:
    """One stored GUID as sealed, and the id of the key that sealed it (None: untagged)."""

    sealed: bytes
    key_id: str | None


@store
class SecretKeyRecord:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._meta: AsyncCollection[Document] = db["meta"]
        self._tokens: AsyncCollection[Document] = db["tokens"]

    async def sealed_by(self) -> list[str] | None:
        """The recorded key ids; None when nothing is recorded yet."""
        doc = await self._meta.find_one({"_id": _ID})
        return None if doc is None else [str(key_id) for key_id in doc["sealed_by"]]

    async def record_first(self, key_ids: list[str]) -> list[str]:
        """Record ``key_ids`` unless another instance recorded first; answer what is recorded."""
        await self._meta.update_one(
            {"_id": _ID}, {"$setOnInsert": {"sealed_by": key_ids}}, upsert=True
        )
        recorded = await self.sealed_by()
        assert recorded is not None
        return recorded

    async def add(self, key_id: str) -> None:
        """Record ``key_id`` before anything is sealed under it."""
        await self._meta.update_one({"_id": _ID}, {"$addToSet": {"sealed_by": key_id}})

    async def keep_only(self, key_id: str) -> None:
        """After a rotation: no stored GUID is sealed by any other key."""
        await self._meta.update_one({"_id": _ID}, {"$set": {"sealed_by": [key_id]}})

    async def sample(self) -> SealedSample | None:
        """One stored sealed GUID, if any token holds one.

        Asked for by GUID prefix, one hex digit at a time, on the indexed field: the embedded
        database fetches everything a query matches before it applies a limit, and a
        ``find_one`` over the whole collection took 0.5 s at 20k tokens, past the request
        timeout at 100k; a sixteenth of them took 0.07 s. A database that never held a token (a
        first start) has no tokens collection at all: one question then, not sixteen.
        """
        tokens = self._tokens
        if not await tokens.database.list_collection_names(filter={"name": tokens.name}):
            return None
        for digit in "0123456789abcdef":
            doc = await tokens.find_one(
                {"guid_prefix": {"$gte": digit, "$lt": digit + "~"}},
                {"guid_enc": 1, "guid_key": 1},
            )
            if doc is not None and "guid_enc" in doc:
                return SealedSample(bytes(doc["guid_enc"]), doc.get("guid_key"))
        return None
