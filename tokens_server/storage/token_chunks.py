"""Bulk revoke and delete, a chunk of ids at a time: each chunk one change of the group commit.

Changed one by one, each token costs a read, the rules, a write and an event inside the group's
transaction: about 20 ms a token on the embedded database, which rewrites every index entry of a
document it changes, so 500 tokens took 6-14 s. A chunk reads its tokens with one find, has the
rules judge each exactly as they judge a single change (``Judge``), then writes those that pass
with one ``update_many`` or ``delete_many`` and leaves one event each, in the order of the ids.

What a chunk judged is what it writes: the read and the write are one transaction, and another
writer changing one of its tokens in between is a write conflict, after which the whole group
runs again on a fresh read. A refusal is that id's outcome, not an error, so it aborts nothing.
Chunks follow each other in the order of the ids, each as large as the recent cost of a change
says fits one commit (``EventStore.changes_fit``); a database failure fails the chunk under way
and leaves every later id untouched.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime

from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection

from tokens_server.domain.errors import DomainError
from tokens_server.domain.models import Token, utcnow
from tokens_server.storage.events import ChangeMany, Draft, EventStore
from tokens_server.storage.failures import store
from tokens_server.storage.group_commit import OutOfTime
from tokens_server.storage.quota import HOLDER, TokenQuota
from tokens_server.storage.token_documents import Document, TokenDocuments
from tokens_server.storage.tokens import changed, revocation
from tokens_server.storage.transactions import Session

# The rules' answer for one id, given its token as the chunk read it (None: there is none) and
# the chunk's time: the refusal, or None to change it.
Judge = Callable[[str, Token | None, datetime], DomainError | None]
# A chunk's write of the tokens that passed, as read: one event each, in their order.
_Write = Callable[[list[Document], str, datetime, Session], Awaitable[list[Draft]]]


@store
class TokenChunks:
    def __init__(
        self,
        tokens: AsyncCollection[Document],
        docs: TokenDocuments,
        quota: TokenQuota,
        events: EventStore,
    ) -> None:
        self._tokens = tokens
        self._docs = docs
        self._quota = quota
        self._events = events

    async def revoke(self, ids: list[str], judge: Judge, by: str) -> list[DomainError | None]:
        """Revoke each token ``judge`` passes; each id's refusal, or None where revoked."""
        return await self._each(ids, judge, by, self._revoke)

    async def delete(self, ids: list[str], judge: Judge, by: str) -> list[DomainError | None]:
        """Delete each token ``judge`` passes; each id's refusal, or None where deleted."""
        return await self._each(ids, judge, by, self._delete)

    async def _each(
        self, ids: list[str], judge: Judge, by: str, write: _Write
    ) -> list[DomainError | None]:
        # Each id once (the request's schema says so): a chunk reads each token once.
        assert len(set(ids)) == len(ids), "bulk ids must be distinct"
        outcomes: list[DomainError | None] = []
        most = len(ids)
        while len(outcomes) < len(ids):
            size = min(most, self._events.changes_fit())
            chunk = ids[len(outcomes) : len(outcomes) + size]
            try:
                outcomes += await self._events.commit_many(
                    self._chunk(chunk, judge, by, write), len(chunk)
                )
            except OutOfTime:
                if len(chunk) == 1:
                    raise
                # Slower than its estimate said (a busy machine), it changed nothing: half as
                # many, and the estimate (which heard of the timeout) decides from there.
                most = len(chunk) // 2
        return outcomes

    def _chunk(
        self, ids: list[str], judge: Judge, by: str, write: _Write
    ) -> ChangeMany[list[DomainError | None]]:
        now = utcnow()

        async def change(session: Session) -> tuple[list[DomainError | None], list[Draft]]:
            query = {"_id": {"$in": [ObjectId(token_id) for token_id in ids]}}
            found = {
                str(doc["_id"]): doc async for doc in self._tokens.find(query, session=session)
            }
            outcomes = [judge(i, self._token(found.get(i)), now) for i in ids]
            passed = [found[i] for i, refusal in zip(ids, outcomes, strict=True) if refusal is None]
            drafts = await write(passed, by, now, session) if passed else []
            return outcomes, drafts

        return change

    def _token(self, doc: Document | None) -> Token | None:
        return None if doc is None else self._docs.token(doc)

    async def _revoke(
        self, passed: list[Document], by: str, now: datetime, session: Session
    ) -> list[Draft]:
        revoked = self._docs.stored(revocation(by, now))
        await self._tokens.update_many(
            {"_id": {"$in": [doc["_id"] for doc in passed]}},
            {"$set": revoked, "$inc": {"version": 1}},
            session=session,
        )
        return [changed(doc, revoked, by, now, "token.revoked")[1] for doc in passed]

    async def _delete(
        self, passed: list[Document], by: str, now: datetime, session: Session
    ) -> list[Draft]:
        await self._tokens.delete_many(
            {"_id": {"$in": [doc["_id"] for doc in passed]}}, session=session
        )
        holders = Counter(doc[HOLDER] for doc in passed if doc.get(HOLDER) is not None)
        for holder, slots in holders.items():
            await self._quota.give_back(holder, session, slots)
        return [Draft(now, by, "token.deleted", token=doc) for doc in passed]
