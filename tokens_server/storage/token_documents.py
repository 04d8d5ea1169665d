"""Tokens as stored: the document a Token is kept as, with its GUID sealed, and back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tokens_server.domain.models import Token
from tokens_server.domain.names import search_key
from tokens_server.secrets.crypto import GuidCipher
from tokens_server.secrets.keyring import Keyring

Document = dict[str, Any]

# ``ends_at`` is ``valid_to``, with "never" stored as the last instant a date can hold: sorted
# by it, on an index, tokens that never expire come after every date, not before as null would.
NEVER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def ends_at(valid_to: datetime | None) -> datetime:
    return NEVER if valid_to is None else valid_to


@dataclass(frozen=True, slots=True)
class HeldToken:
    """What memory keeps of a stored token: the fields an answer reads, the GUID still sealed,
    and the lookup hashes of its GUID and of a replaced one still stored (one per configured
    key). A third of the whole document's size: none of the sort keys, the prefix or the quota
    holder, and no dict."""

    id: str
    lookup_hashes: tuple[str, ...]
    previous_hashes: tuple[str, ...]
    guid_enc: bytes
    guid_key: str | None
    name: str
    description: str
    scopes: tuple[str, ...]
    valid_from: datetime
    valid_to: datetime | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None
    version: int
    previous_guid_until: datetime | None
    # The latest refused verification, as the usage flushes write it (lists filter by it).
    last_refused_at: datetime | None = None

    @property
    def every_hash(self) -> tuple[str, ...]:
        """Every hash a GUID lookup may find this token by."""
        return self.lookup_hashes + self.previous_hashes


def _hashes(stored: str | list[str] | None) -> tuple[str, ...]:
    # During a secret-key rotation a GUID is stored with a hash under each key.
    if stored is None:
        return ()
    return (stored,) if isinstance(stored, str) else tuple(stored)


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

    def previous_guid(self, guid: str | None) -> Document | None:
        """A replaced GUID that still verifies for a while: sealed and hashed like a current
        one (under ``previous_guid.hash``), so a key rotation reseals it too."""
        if guid is None:
            return None
        fields = self.guid_fields(guid)
        return {"enc": fields["guid_enc"], "key": fields["guid_key"], "hash": fields["guid_hash"]}

    def stored(self, changes: Mapping[str, Any]) -> Document:
        """Domain field values as stored: with the name's sort key and the GUIDs sealed."""
        stored = {k: v for k, v in changes.items() if k not in ("guid", "previous_guid")}
        if "name" in changes:
            stored["name_key"] = search_key(changes["name"])
        if "valid_to" in changes:
            stored["ends_at"] = ends_at(changes["valid_to"])
        if "guid" in changes:
            stored.update(self.guid_fields(changes["guid"]))
        if "previous_guid" in changes:
            stored["previous_guid"] = self.previous_guid(changes["previous_guid"])
        return stored

    def token(self, doc: Document) -> Token:
        """The stored token, its GUID opened."""
        return self.token_of(self.held(doc))

    @staticmethod
    def held(doc: Document) -> HeldToken:
        return HeldToken(
            id=str(doc["_id"]),
            lookup_hashes=_hashes(doc.get("guid_hash")),
            previous_hashes=_hashes((doc.get("previous_guid") or {}).get("hash")),
            guid_enc=doc["guid_enc"],
            guid_key=doc.get("guid_key"),
            name=doc["name"],
            description=doc.get("description", ""),
            scopes=tuple(doc["scopes"]),
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
            previous_guid_until=doc.get("previous_guid_until"),
            last_refused_at=doc.get("last_refused_at"),
        )

    def token_of(self, held: HeldToken, guid: str | None = None) -> Token:
        """The held token; ``guid`` when the caller knows it already (it found the token by the
        GUID's lookup hash), which spares opening the sealed one."""
        return Token(
            id=held.id,
            name=held.name,
            guid=self.keyring.open(held.guid_enc, held.guid_key) if guid is None else guid,
            description=held.description,
            scopes=list(held.scopes),
            valid_from=held.valid_from,
            valid_to=held.valid_to,
            created_at=held.created_at,
            created_by=held.created_by,
            updated_at=held.updated_at,
            updated_by=held.updated_by,
            revoked_at=held.revoked_at,
            revoked_by=held.revoked_by,
            last_used_at=held.last_used_at,
            version=held.version,
            previous_guid_until=held.previous_guid_until,
        )
