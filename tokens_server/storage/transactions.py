"""Changes that write several documents: all of them, or none.

A change and its history event commit together (README, "Token history"), and the last-admin
guard checks what a change leaves: both run their writes through ``in_transaction``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pymongo
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

T = TypeVar("T")
Session = AsyncClientSession


async def in_transaction(
    collection: AsyncCollection[Any], change: Callable[[Session], Awaitable[T]]
) -> T:
    """Run ``change`` in one transaction on ``collection``'s client, journaled like every other
    write (a transaction takes its own write concern, not the collection's). A write conflict
    runs it again on a fresh snapshot; the retries are bounded by the client's timeout."""
    client = collection.database.client
    with pymongo.timeout(client.options.timeout):
        async with client.start_session() as session:
            return await session.with_transaction(change, write_concern=collection.write_concern)
