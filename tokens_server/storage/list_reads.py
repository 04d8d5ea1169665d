"""The reads that fill the list memory (``list_memory.py``): every token, a range of GUID hashes
at a time, and the tokens the change stream reported, read again.

The load walks the GUID hash (HMAC-SHA256 in hex: evenly spread) in ranges, because a bounded
range of an index is the one read every MongoDB answers by examining only what it returns. The
embedded database reads neither an ``_id`` range nor a count from an index, and examines the
whole range before it applies a limit: "the thousand after this ``_id``" and "how many" each
scan the collection there (at 100,000 tokens 20-30 s, far past the read's time limit). Each
range is sized from the last one's density to return about ``BATCH`` tokens.
"""

from __future__ import annotations

from collections.abc import Iterable

from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection

from tokens_server.storage.failures import store
from tokens_server.storage.listed import Listed
from tokens_server.storage.token_documents import Document

BATCH = 1000  # tokens a load read aims at
HASH_DIGITS = 8
HASH_SPACE = 16**HASH_DIGITS
FIRST_WIDTH = HASH_SPACE // 256  # 400 tokens of 100,000; a few of 1,000
MOST_GROWTH = 16  # a sparse range says little about density: widen at most this much at once


def next_width(width: int, found: int) -> int:
    """The width of the next range, from what the last one of ``width`` held."""
    if found == 0:
        return width * MOST_GROWTH
    return max(1, min(width * BATCH // found, width * MOST_GROWTH))


def _hex(value: int) -> str:
    return f"{value:0{HASH_DIGITS}x}"


@store
class ListReads:
    def __init__(self, tokens: AsyncCollection[Document]) -> None:
        self._tokens = tokens

    async def hash_range(self, low: int, high: int) -> list[Listed]:
        """The tokens whose GUID hash, read as a number of ``HASH_DIGITS`` hex digits, is in
        ``[low, high)``; ``high`` past ``HASH_SPACE`` reads to the end."""
        bounds: Document = {"$gte": _hex(low)}
        if high < HASH_SPACE:
            bounds["$lt"] = _hex(high)
        return [Listed.of(doc) async for doc in self._tokens.find({"guid_hash": bounds})]

    async def of(self, token_ids: Iterable[str]) -> dict[str, Listed]:
        """The tokens with these ids that exist, by id."""
        query = {"_id": {"$in": [ObjectId(token_id) for token_id in token_ids]}}
        rows = [Listed.of(doc) async for doc in self._tokens.find(query)]
        return {row.id: row for row in rows}
