"""Token lists: answered from the list memory when it holds every change acknowledged so far,
else asked of the database (``token_listing``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pymongo
from pymongo.asynchronous.collection import AsyncCollection

from tokens_server.domain.guids import GUID_LENGTH
from tokens_server.domain.models import Token, TokenPage, TokenQuery
from tokens_server.storage.events import EventStore
from tokens_server.storage.failures import store
from tokens_server.storage.last_use import LastUse
from tokens_server.storage.list_memory import CATCH_UP_S, ListMemory
from tokens_server.storage.token_documents import Document, HeldToken, TokenDocuments
from tokens_server.storage.token_listing import checks_guid_after_match, filtering, ordering, paged


@store
class TokenPages:
    def __init__(
        self,
        tokens: AsyncCollection[Document],
        docs: TokenDocuments,
        events: EventStore,
        lists: ListMemory,
        last_use: LastUse,
        list_timeout: timedelta,
    ) -> None:
        self._tokens = tokens
        self._docs = docs
        self._events = events
        self._lists = lists
        self._last_use = last_use
        self._list_timeout_s = list_timeout.total_seconds()

    async def page(self, query: TokenQuery, now: datetime) -> TokenPage:
        """A page of tokens. From the database it has its own time limit: there a list costs
        what it matches (on the embedded database, every token the caller can see), and a slow
        page beats a 503."""
        with pymongo.timeout(self._list_timeout_s):
            if self._lists.answers and await self._lists.caught_up(
                await self._events.last_id(), CATCH_UP_S
            ):
                return self._from_memory(query, now)
            return await self._from_database(query, now)

    def _from_memory(self, query: TokenQuery, now: datetime) -> TokenPage:
        guid = query.guid_prefix
        hashes = None
        if guid is not None and len(guid) == GUID_LENGTH:
            hashes = self._docs.keyring.lookup_hashes(guid)
        also = self._guid_check(query) if checks_guid_after_match(query) else None
        found, total = self._lists.page(query, now, hashes, also)
        return TokenPage([self._shown(held) for held in found], total)

    def _guid_check(self, query: TokenQuery) -> Callable[[HeldToken], bool]:
        guid = query.guid_prefix or ""

        # As from the database below: checked opened, and only on GUIDs the caller may receive.
        def check(held: HeldToken) -> bool:
            opened = self._docs.token_of(held).guid
            return query.caller.holds_all(list(held.scopes)) and opened.startswith(guid)

        return check

    async def _from_database(self, query: TokenQuery, now: datetime) -> TokenPage:
        stages = filtering(query, now, self._docs)
        guid = query.guid_prefix
        if guid is not None and checks_guid_after_match(query):
            # The stored prefix narrows the search to a handful; the rest is checked decrypted,
            # and only on GUIDs the caller may receive: on any other, a match would tell the
            # next character (16 tries each) of a GUID the caller must not learn.
            cursor = await self._tokens.aggregate([*stages, *ordering(query, now)])
            found = [
                t
                for t in [self._token(d) async for d in cursor]
                if query.caller.holds_all(t.scopes) and t.guid.startswith(guid)
            ]
            return TokenPage(found[query.offset : query.offset + query.limit], len(found))
        cursor = await self._tokens.aggregate(paged(query, now, stages))
        result = await cursor.next()
        total = result["total"][0]["n"] if result["total"] else 0
        return TokenPage([self._token(d) for d in result["items"]], total)

    def _token(self, doc: Document) -> Token:
        return self._last_use.shown(self._docs.token(doc))

    def _shown(self, held: HeldToken) -> Token:
        return self._last_use.shown(self._docs.token_of(held))
