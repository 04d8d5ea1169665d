"""The only code that speaks to MongoDB. No ObjectId, BSON or query dict leaves this package."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pymongo
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.write_concern import WriteConcern

from tokens_server.secrets.keyring import Keyring
from tokens_server.storage import usage_layout
from tokens_server.storage.auth_failures import AuthFailures
from tokens_server.storage.bootstrap import BootstrapRecord
from tokens_server.storage.events import EventStore
from tokens_server.storage.failures import store
from tokens_server.storage.last_use import LastUse
from tokens_server.storage.list_memory import ListMemory
from tokens_server.storage.list_reads import ListReads
from tokens_server.storage.memory import Memory
from tokens_server.storage.quota import TokenQuota
from tokens_server.storage.scopes import ScopeStore
from tokens_server.storage.token_chunks import TokenChunks
from tokens_server.storage.token_documents import TokenDocuments
from tokens_server.storage.token_pages import TokenPages
from tokens_server.storage.token_upkeep import TokenUpkeep
from tokens_server.storage.tokens import TokenStore
from tokens_server.storage.topology import commits_reach_the_journal
from tokens_server.storage.usage import UsageStore
from tokens_server.storage.usage_counts import UsageCounter
from tokens_server.storage.users import UserStore

__all__ = ["Repository", "connect", "database"]

Document = dict[str, object]


def connect(
    uri: str, timeout_ms: int, *, bound_operations: bool = True
) -> AsyncMongoClient[Document]:
    """A client whose every operation gives up after ``timeout_ms``, so no request hangs.

    ``bound_operations=False`` is for offline passes over the whole collection (rotating the
    secret key): only reaching the database is bounded, not a cursor's life.
    """
    limits: dict[str, Any] = {"timeoutMS": timeout_ms} if bound_operations else {}
    return AsyncMongoClient(
        uri,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        appname="tokens-server",
        **limits,
    )


def database(client: AsyncMongoClient[Document], db_name: str) -> AsyncDatabase[Document]:
    """The database, every write journaled (see Repository)."""
    return client.get_database(db_name, write_concern=WriteConcern(j=True))


@store
class Repository:
    """Stores of tokens, users and scopes in one database.

    Writes are journaled (``j=True``): on the embedded database the default write concern was
    measured losing acknowledged writes when its process was killed; ``j=True`` lost none.
    """

    def __init__(
        self,
        client: AsyncMongoClient[Document],
        db_name: str,
        keyring: Keyring,
        failure_window: timedelta = timedelta(minutes=1),
        list_timeout: timedelta = timedelta(seconds=10),
        event_retention: timedelta = timedelta(days=400),
        memory: Memory | None = None,
        list_memory_tokens: int = 0,
        usage_retention: timedelta = timedelta(days=400),
    ) -> None:
        self.db = database(client, db_name)
        # Without a change stream to follow (offline commands), memory is never trusted.
        self.memory = Memory(0, 0) if memory is None else memory
        self.lists = ListMemory(self.memory, list_memory_tokens)
        self.list_reads = ListReads(self.db["tokens"])
        quota = TokenQuota(self.db["users"], self.db["tokens"])
        self.events = EventStore(self.db["events"], self.db["meta"], event_retention, self.memory)
        last_use = LastUse(self.db["tokens"], self.memory.max_tokens)
        self.token_upkeep = TokenUpkeep(self.db["tokens"], keyring, quota)
        self.tokens = TokenStore(
            self.db["tokens"], keyring, quota, self.events, self.memory, last_use
        )
        self.token_chunks = TokenChunks(
            self.db["tokens"], TokenDocuments(keyring), quota, self.events
        )
        self.token_pages = TokenPages(
            self.db["tokens"],
            TokenDocuments(keyring),
            self.events,
            self.lists,
            last_use,
            list_timeout,
        )
        hours, days = self.db[usage_layout.HOURS], self.db[usage_layout.DAYS]
        self.usage_counts = UsageCounter(hours, days, self.db["tokens"])
        self.usage = UsageStore(
            hours,
            days,
            self.db["tokens"],
            self.lists,
            self.events,
            last_use,
            usage_retention,
            list_timeout,
        )
        self.users = UserStore(self.db["users"], self.db["guards"], self.events, self.memory)
        self.auth_failures = AuthFailures(self.db["auth_failures"], failure_window)
        self.bootstrap = BootstrapRecord(self.db["meta"], self.db["users"])
        self.scopes = ScopeStore(
            self.db["scopes"], self.db["tokens"], self.db["users"], self.events, self.memory
        )

    async def prepare(self) -> None:
        """Create indexes (idempotent) and migrate plaintext GUIDs left by older versions."""
        # Migrate first: the unique index on guid_hash cannot be built while several old tokens
        # lack one. After the first start the index exists and finds such tokens at once.
        await self.token_upkeep.encrypt_plaintext_guids()
        await self.token_upkeep.create_indexes()
        await self.token_upkeep.add_end_dates()
        await self.events.create_indexes()
        await self.users.create_indexes()
        await self.scopes.create_indexes()
        await self.auth_failures.create_indexes()
        await self.usage.create_indexes()
        self.events.confirm_commits = not await commits_reach_the_journal(self.db.client)

    async def ping(self, within_s: float) -> None:
        # The driver's own deadline, not a cancel from outside: a connection cancelled while it
        # was being made was left unclosed (seen while the database restarted under load).
        with pymongo.timeout(within_s):
            await self.db.command("ping")
