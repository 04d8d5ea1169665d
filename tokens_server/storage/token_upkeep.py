"""The passes over the whole tokens collection that no request makes: its indexes, the
migration of documents older versions stored, and resealing every GUID under a new key."""

from __future__ import annotations

from dataclasses import dataclass

from pymongo import IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from tokens_server.secrets.keyring import Keyring
from tokens_server.storage.failures import store
from tokens_server.storage.quota import TokenQuota
from tokens_server.storage.token_documents import Document, TokenDocuments, ends_at


@dataclass(frozen=True)
class ResealOutcome:
    resealed: int
    # Tokens still sealed by another key than the current one.
    remaining: int
    # Ids of tokens whose GUID another token holds already under the current key.
    duplicates: list[str]


@store
class TokenUpkeep:
    """The tokens collection as start-up and `rotate-secret-key` see it."""

    def __init__(
        self, tokens: AsyncCollection[Document], keyring: Keyring, quota: TokenQuota
    ) -> None:
        self._tokens = tokens
        self._docs = TokenDocuments(keyring)
        self._quota = quota

    async def create_indexes(self) -> None:
        # In one command: each start asks for every index, and all of them exist but at the
        # first start.
        indexes = [
            IndexModel("guid_hash", unique=True),
            # Not unique, nor partial: the embedded database scans the whole collection for a
            # query on a partial index (0.6 s at 30k tokens, on every create and every verify
            # that misses). A replaced GUID was a current one, which guid_hash keeps unique, and
            # no new GUID may be one still stored as replaced (_refuse_replaced_guid).
            IndexModel("previous_guid.hash"),
            IndexModel("guid_prefix"),
            IndexModel([("scopes", 1), ("name_key", 1)]),
            IndexModel([("name_key", 1), ("_id", 1)]),
            IndexModel("valid_to"),
            IndexModel("last_refused_at"),  # the refused_within filter
            self._quota.index,
        ]
        # One per sort (token_listing.SORTS): the sort key, then the name, then the id.
        for key in ("valid_from", "ends_at", "last_used_at", "created_at"):
            indexes.append(IndexModel([(key, 1), ("name_key", 1), ("name", 1), ("_id", 1)]))
        await self._tokens.create_indexes(indexes)

    async def add_end_dates(self) -> int:
        """Give ``ends_at`` (see token_documents) to tokens stored before it existed. They are
        found on its index (a missing field is null there), without a collection scan."""
        added = 0
        async for doc in self._tokens.find({"ends_at": None}, {"valid_to": 1}):
            await self._tokens.update_one(
                {"_id": doc["_id"], "ends_at": None},
                {"$set": {"ends_at": ends_at(doc.get("valid_to"))}},
            )
            added += 1
        return added

    async def encrypt_plaintext_guids(self) -> int:
        """Replace GUIDs stored in plain text (by versions before encryption) with ciphertext.

        Such a token has no ``guid_hash``: asking for that on the indexed field finds them
        without a collection scan. ``{"guid": {"$exists": True}}`` scanned 100k tokens in 6.5 s
        on the embedded database, past the request timeout, and the server could not start.
        """
        migrated = 0
        async for doc in self._tokens.find(
            {"guid_hash": None, "guid": {"$exists": True}}, {"guid": 1}
        ):
            guid = str(doc["guid"]).lower()
            await self._tokens.update_one(
                {"_id": doc["_id"], "guid": doc["guid"]},
                {"$set": self._docs.guid_fields(guid), "$unset": {"guid": ""}},
            )
            migrated += 1
        return migrated

    async def reseal(self, limit: int | None = None) -> ResealOutcome:
        """Seal every GUID not sealed by the current key (or with a lookup hash under another)
        under the current key alone: at most ``limit`` of them, the rest on a later call.

        A GUID replaced with a grace (``previous_guid``) is resealed with its token's.

        Each token is rewritten only if its sealed GUIDs are still the ones read, so a
        concurrent regenerate wins; the version and dates stay, since the token itself does not
        change. One cursor over the collection: an offline pass, never on a request's path.
        """
        current = self._docs.keyring.current.id
        stale: Document = {
            "guid_enc": {"$exists": True},
            "$or": [
                {"guid_key": {"$ne": current}},
                {"guid_hash.1": {"$exists": True}},
                {"previous_guid.key": {"$exists": True, "$ne": current}},
                {"previous_guid.hash.1": {"$exists": True}},
            ],
        }
        resealed, duplicates = 0, []
        cursor = self._tokens.find(stale, {"guid_enc": 1, "guid_key": 1, "previous_guid": 1})
        async for doc in cursor:
            if limit is not None and resealed >= limit:
                break
            fields = self._resealed(doc["guid_enc"], doc.get("guid_key"))
            previous = doc.get("previous_guid")
            if previous is not None:
                again = self._resealed(previous["enc"], previous["key"])
                fields["previous_guid"] = {
                    "enc": again["guid_enc"],
                    "key": again["guid_key"],
                    "hash": again["guid_hash"],
                }
            unchanged = {
                "_id": doc["_id"],
                "guid_enc": doc["guid_enc"],
                "previous_guid.enc": None if previous is None else previous["enc"],
            }
            try:
                result = await self._tokens.update_one(unchanged, {"$set": fields})
            except DuplicateKeyError:
                duplicates.append(str(doc["_id"]))
                continue
            resealed += result.modified_count
        await cursor.close()
        remaining = await self._tokens.count_documents(
            {
                "$or": [
                    {"guid_enc": {"$exists": True}, "guid_key": {"$ne": current}},
                    {"previous_guid.key": {"$exists": True, "$ne": current}},
                ]
            }
        )
        return ResealOutcome(resealed, remaining, duplicates)

    def _resealed(self, sealed: bytes, key_id: str | None) -> Document:
        """A sealed GUID's fields, sealed again under the current key, with that key's lookup
        hash alone: by now every instance seals under the current key (README's order), and a
        hash under the previous key would outlive that key."""
        guid = self._docs.keyring.open(sealed, key_id)
        return self._docs.guid_fields(guid) | {
            "guid_hash": self._docs.keyring.current.cipher.lookup_hash(guid)
        }
