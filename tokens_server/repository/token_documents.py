"""Tokens as stored: the document a Token is kept as, with its GUID sealed, and back."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..crypto import GuidCipher
from ..keyring import Keyring
from ..models import Token
from ..names import search_key

Document = dict[str, Any]

# ``ends_at`` is ``valid_to``, with "never" stored as the last instant a date can hold: sorted
# by it, on an index, tokens that never expire come after every date, not before as null would.
NEVER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def ends_at(valid_to: datetime | None) -> datetime:
    return NEVER if valid_to is None else valid_to


class TokenDocuments:
    """Converts between Tokens and documents; each GUID sealed under the keyring's current key.

    While a previous key is configured (a rotation), ``guid_hash`` holds the GUID's lookup hash
    under both keys, and lookups ask for either.
    """

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    def guid_fields(self, guid: str) -> Document:
        current = self.keyring.current
        hashes = self.keyring.lookup_hashes(guid)
        return {
            "guid_enc": current.cipher.encrypt(guid),
            "guid_key": current.id,
            "guid_hash": hashes[0] if len(hashes) == 1 else hashes,
            "guid_prefix": GuidCipher.prefix(guid),
        }

    def lookup(self, guid: str) -> str | Document:
        """The condition on ``guid_hash`` that finds ``guid`` under any configured key."""
        return self.matching(self.keyring.lookup_hashes(guid))

    @staticmethod
    def matching(hashes: list[str]) -> str | Document:
        """The condition on ``guid_hash`` that finds any of these lookup hashes."""
        return hashes[0] if len(hashes) == 1 else {"$in": hashes}

    def stored(self, changes: Mapping[str, Any]) -> Document:
        """Domain field values as stored: with the name's sort key and the GUID sealed."""
        stored = {k: v for k, v in changes.items() if k != "guid"}
        if "name" in changes:
            stored["name_key"] = search_key(changes["name"])
        if "valid_to" in changes:
            stored["ends_at"] = ends_at(changes["valid_to"])
        if "guid" in changes:
            stored.update(self.guid_fields(changes["guid"]))
        return stored

    def token(self, doc: Document, guid: str | None = None) -> Token:
        """The stored token; ``guid`` when the caller knows it already (it found the token by
        the GUID's lookup hash), which spares opening the sealed one."""
        return Token(
            id=str(doc["_id"]),
            name=doc["name"],
            guid=self.keyring.open(doc["guid_enc"], doc.get("guid_key")) if guid is None else guid,
            description=doc.get("description", ""),
            scopes=list(doc["scopes"]),
            valid_from=doc["valid_from"],
            valid_to=doc.get("valid_to"),
            created_at=doc["created_at"],
            created_by=doc["created_by"],
            updated_at=doc["updated_at"],
            updated_by=doc["updated_by"],
            revoked_at=doc.get("revoked_at"),
            revoked_by=doc.get("revoked_by"),
            last_used_at=doc.get("last_used_at"),
            version=doc["version"],
        )
