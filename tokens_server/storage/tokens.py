"""Tokens on the request path: made, read, changed, deleted and listed. How a token is stored
is ``token_documents``; how a list is asked for is ``token_listing``; the passes over the whole
collection that no request makes (indexes, migrations, resealing) are ``token_upkeep``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from tokens_server.domain.errors import Conflict
from tokens_server.domain.models import EventAction, Token
from tokens_server.secrets.keyring import Keyring
from tokens_server.storage.events import TOKEN_FIELDS, Draft, EventStore, recorded_changes
from tokens_server.storage.failures import store
from tokens_server.storage.last_use import LastUse
from tokens_server.storage.memory import Memory
from tokens_server.storage.quota import HOLDER, TokenQuota
from tokens_server.storage.token_documents import Document, HeldToken, TokenDocuments
from tokens_server.storage.transactions import Session


@store
class TokenStore:
    """Tokens; each GUID sealed under the keyring's current key and tagged with its id.

    Token ids arrive as the routes admit them, 24 hex digits: always a valid ObjectId.

    While a previous key is configured (a rotation), ``guid_hash`` holds the GUID's lookup hash
    under both keys, and lookups ask for either: the unique index on it then refuses the same
    GUID twice even from instances that still seal under the previous key alone.
    """

    def __init__(
        self,
        tokens: AsyncCollection[Document],
        keyring: Keyring,
        quota: TokenQuota,
        events: EventStore,
        memory: Memory,
        last_use: LastUse,
    ) -> None:
        self._tokens = tokens
        self._docs = TokenDocuments(keyring)
        self._quota = quota
        self._events = events
        self._memory = memory
        self.last_use = last_use

    def _stored(self, changes: Mapping[str, Any]) -> Document:
        return self._docs.stored(changes)

    async def insert(
        self,
        fields: Mapping[str, Any],
        by: str,
        now: datetime,
        limit: int | None = None,
        *,
        drawn: bool = False,
    ) -> Token:
        """Insert a token made by ``by``, within ``by``'s ``limit`` of tokens (None: no limit).
        ``drawn``: the server drew its GUID, so it is no replaced GUID (122 random bits), and the
        lookup that refuses one is spared: a read less in the create's transaction."""
        doc = self._stored(fields) | {
            "created_at": now,
            "created_by": by,
            "updated_at": now,
            "updated_by": by,
            "revoked_at": None,
            "revoked_by": None,
            "last_used_at": None,
            "version": 1,
        }
        if limit is not None:
            doc[HOLDER] = by

        async def create(session: Session) -> tuple[None, Draft]:
            if limit is not None:
                await self._quota.take(by, limit, session)
            if not drawn:
                await self._refuse_replaced_guid(doc, None, session)
            await self._tokens.insert_one(doc, session=session)
            changes = recorded_changes({}, doc, TOKEN_FIELDS)
            return None, Draft(now, by, "token.created", token=doc, changes=changes)

        try:
            await self._events.commit(create)
        except DuplicateKeyError as error:
            raise _guid_taken(error) from None
        return self._token(doc)

    async def get(self, token_id: str, fresh: bool = False) -> Token | None:
        """The token, from memory unless ``fresh`` asks for the database's copy."""
        held = await self._memory.read_through(
            None if fresh else self._memory.token(token_id),
            lambda: self._held({"_id": ObjectId(token_id)}),
            self._memory.keep_token,
        )
        return None if held is None else self.last_use.shown(self._docs.token_of(held))

    async def by_guid(self, guid: str) -> Token | None:
        """The token whose GUID this is, or whose previous GUID (still in its grace or not:
        the rules decide) it was."""
        hashes = self._docs.keyring.lookup_hashes(guid)
        matching = TokenDocuments.matching(hashes)

        async def read() -> HeldToken | None:
            # Two lookups on two indexes, not one $or: a GUID in use is found by the first.
            found = await self._held({"guid_hash": matching})
            if found is None:
                found = await self._held({"previous_guid.hash": matching})
            return found

        held = await self._memory.read_through(
            self._memory.token_by_hash(hashes), read, self._memory.keep_token
        )
        if held is None:
            return None
        # Found by its GUID's lookup hash, the GUID is this one: no need to open the sealed one.
        # Found by a replaced GUID's, the token's own GUID is another.
        current = not set(hashes).isdisjoint(held.lookup_hashes)
        return self.last_use.shown(self._docs.token_of(held, guid if current else None))

    async def _held(self, condition: Document) -> HeldToken | None:
        doc = await self._tokens.find_one(condition)
        return None if doc is None else TokenDocuments.held(doc)

    async def _refuse_replaced_guid(
        self, stored: Document, token_id: ObjectId | None, session: Session
    ) -> None:
        """Refuse a new GUID that another token still holds as its previous one. (The unique
        index keeps current GUIDs apart; this keeps a new one apart from the replaced ones.)"""
        if "guid_hash" not in stored:
            return
        new = stored["guid_hash"]
        hashes = [new] if isinstance(new, str) else new
        query: Document = {"previous_guid.hash": TokenDocuments.matching(hashes)}
        if token_id is not None:
            query["_id"] = {"$ne": token_id}
        if await self._tokens.find_one(query, {"_id": 1}, session=session) is not None:
            raise Conflict("a token with this GUID exists already")

    def _token(self, doc: Document) -> Token:
        return self.last_use.shown(self._docs.token(doc))

    async def update(
        self,
        basis: Token,
        changes: Mapping[str, Any],
        by: str,
        now: datetime,
        *,
        same_version: bool,
        action: EventAction = "token.updated",
    ) -> Token | None:
        """Apply ``changes`` to the token ``basis`` was read as, if it is still at its version
        (``same_version``), or else still has its scopes, revocation and dates: what the rules
        for a change read. None when it is not, or is gone."""
        query: Document = {"_id": ObjectId(basis.id)}
        if same_version:
            query["version"] = basis.version
        else:
            query.update(
                scopes=basis.scopes,
                revoked_at=basis.revoked_at,
                valid_from=basis.valid_from,
                valid_to=basis.valid_to,
            )
        if changes.get("previous_guid") is not None:
            # The GUID kept working is the one it replaces: one racing rotation must keep the
            # GUID the other handed out, not the one both read. (Without a grace the last one
            # wins, and ends every GUID before it.)
            query["guid_hash"] = self._docs.lookup(basis.guid)
        stored = self._stored(changes) | {"updated_at": now, "updated_by": by}
        return await self._change(query, stored, by, now, action)

    async def revoke(
        self, token_id: str, version: int | None, by: str, now: datetime
    ) -> Token | None:
        """Revoke if active (and at ``version`` when given); None when not."""
        query: Document = {
            "_id": ObjectId(token_id),
            "revoked_at": None,
            "valid_from": {"$lte": now},
            "valid_to": {"$not": {"$lte": now}},
        }
        if version is not None:
            query["version"] = version
        return await self._change(
            query, self._stored(revocation(by, now)), by, now, "token.revoked"
        )

    async def _change(
        self, query: Document, changes: Document, by: str, now: datetime, action: EventAction
    ) -> Token | None:
        """Apply ``changes`` to the token ``query`` finds, with its event; None if none."""

        async def change(session: Session) -> tuple[Document | None, Draft | None]:
            await self._refuse_replaced_guid(changes, query["_id"], session)
            before = await self._tokens.find_one_and_update(
                query,
                {"$set": changes, "$inc": {"version": 1}},
                return_document=ReturnDocument.BEFORE,
                session=session,
            )
            if before is None:
                return None, None
            return changed(before, changes, by, now, action)

        try:
            doc = await self._events.commit(change)
        except DuplicateKeyError as error:
            raise _guid_taken(error) from None
        return None if doc is None else self._token(doc)

    async def delete(self, token_id: str, version: int | None, by: str, now: datetime) -> bool:
        oid = ObjectId(token_id)
        query: Document = {"_id": oid} if version is None else {"_id": oid, "version": version}

        async def delete(session: Session) -> tuple[bool, Draft | None]:
            deleted = await self._tokens.find_one_and_delete(query, session=session)
            if deleted is None:
                return False, None
            if deleted.get(HOLDER) is not None:
                await self._quota.give_back(deleted[HOLDER], session)
            return True, Draft(now, by, "token.deleted", token=deleted)

        return await self._events.commit(delete)


def revocation(by: str, now: datetime) -> Document:
    """What revoking a token sets: it ends now."""
    return {
        "valid_to": now,
        "revoked_at": now,
        "revoked_by": by,
        "updated_at": now,
        "updated_by": by,
    }


def changed(
    before: Document, changes: Document, by: str, now: datetime, action: EventAction
) -> tuple[Document, Draft]:
    """The token ``before`` became once ``changes`` were set (its version one more), and the
    change's event."""
    after = before | changes | {"version": before["version"] + 1}
    return after, Draft(
        now, by, action, token=after, changes=recorded_changes(before, after, TOKEN_FIELDS)
    )


def _guid_taken(error: DuplicateKeyError) -> Exception:
    """Conflict when another token holds the GUID; any other duplicate (an event id, which
    the sequence never hands out twice) is the database's fault, not the caller's."""
    details = error.details or {}
    if "guid_hash" in details.get("keyPattern", {}) or "guid_hash" in str(details.get("errmsg")):
        return Conflict("a token with this GUID exists already")
    return error
