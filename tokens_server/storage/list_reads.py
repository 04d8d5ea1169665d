"""The reads that fill the list memory (``list_memory.py``): every token, a batch at a time, and
the tokens the change stream reported, read again."""

from __future__ import annotations

from collections.abc import Iterable

from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection

from tokens_server.storage.failures import store
from tokens_server.storage.listed import Listed
from tokens_server.storage.token_documents import Document


@store
class ListReads:
    def __init__(self, tokens: AsyncCollection[Document]) -> None:
        self._tokens = tokens

    async def count(self) -> int:
        return await self._tokens.count_documents({})

    async def after(self, token_id: str | None, limit: int) -> list[Listed]:
        """Up to ``limit`` tokens by id, from the one after ``token_id``: each batch is one
        query within the usual time limit, however many tokens there are."""
        query: Document = {} if token_id is None else {"_id": {"$gt": ObjectId(token_id)}}
        cursor = self._tokens.find(query).sort("_id", 1).limit(limit)
        return [Listed.of(doc) async for doc in cursor]

    async def of(self, token_ids: Iterable[str]) -> dict[str, Listed]:
        """The tokens with these ids that exist, by id."""
        query = {"_id": {"$in": [ObjectId(token_id) for token_id in token_ids]}}
        rows = [Listed.of(doc) async for doc in self._tokens.find(query)]
        return {row.id: row for row in rows}
