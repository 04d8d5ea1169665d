"""Typed results of the Tokens API, parsed from its JSON answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp from the API as a timezone-aware datetime (None stays None)."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without an offset: {value!r}")
    return parsed


def format_time(value: datetime) -> str:
    """A timezone-aware datetime as RFC 3339; naive datetimes are refused, never guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetimes sent to the API must be timezone-aware")
    return value.isoformat()


def _required_time(value: Any) -> datetime:
    parsed = parse_time(value)
    if parsed is None:
        raise ValueError("missing timestamp")
    return parsed


@dataclass(frozen=True)
class Token:
    """An API token as the server shows it."""

    id: str
    name: str
    # None when the caller does not hold every scope of the token: the server keeps the GUID
    # from those who only share some of its scopes, and sends its first characters instead.
    guid: str | None
    guid_prefix: str
    description: str
    scopes: tuple[str, ...]
    valid_from: datetime
    valid_to: datetime | None
    is_active: bool
    status: str
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None
    version: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Token:
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            guid=None if data["guid"] is None else str(data["guid"]),
            guid_prefix=str(data["guid_prefix"]),
            description=str(data.get("description") or ""),
            scopes=tuple(str(s) for s in data["scopes"]),
            valid_from=_required_time(data["valid_from"]),
            valid_to=parse_time(data.get("valid_to")),
            is_active=bool(data["is_active"]),
            status=str(data["status"]),
            created_at=_required_time(data["created_at"]),
            created_by=str(data.get("created_by") or ""),
            updated_at=_required_time(data["updated_at"]),
            updated_by=str(data.get("updated_by") or ""),
            revoked_at=parse_time(data.get("revoked_at")),
            revoked_by=data.get("revoked_by"),
            last_used_at=parse_time(data.get("last_used_at")),
            version=int(data["version"]),
        )

    @property
    def revoked(self) -> bool:
        return self.status == "revoked"


@dataclass(frozen=True)
class TokenPage:
    """One page of ``GET /tokens``: the tokens and where they sit in the whole result."""

    items: tuple[Token, ...]
    total: int
    limit: int
    offset: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TokenPage:
        return cls(
            items=tuple(Token.from_json(item) for item in data["items"]),
            total=int(data["total"]),
            limit=int(data["limit"]),
            offset=int(data["offset"]),
        )


@dataclass(frozen=True)
class Scope:
    name: str
    description: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Scope:
        return cls(name=str(data["name"]), description=str(data.get("description") or ""))


@dataclass(frozen=True)
class User:
    """A caller of the API: ``GET /me`` and the admin's user calls answer this."""

    name: str
    scopes: tuple[str, ...]
    admin: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> User:
        return cls(
            name=str(data["name"]),
            scopes=tuple(str(s) for s in data.get("scopes") or ()),
            admin=bool(data.get("admin", False)),
        )


@dataclass(frozen=True)
class UserWithKey:
    """A user together with its API key, which the server shows only this once."""

    user: User
    api_key: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UserWithKey:
        return cls(user=User.from_json(data), api_key=str(data["api_key"]))

    def __repr__(self) -> str:  # keep keys out of logs and notebook outputs
        return f"UserWithKey(user={self.user!r}, api_key='***')"


@dataclass(frozen=True)
class VerifiedToken:
    id: str
    name: str
    scopes: tuple[str, ...]
    valid_to: datetime | None


@dataclass(frozen=True)
class Verification:
    """The answer of ``POST /tokens/verify``."""

    valid: bool
    status: str
    token: VerifiedToken | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verification:
        raw = data.get("token")
        token = None
        if raw:
            token = VerifiedToken(
                id=str(raw["id"]),
                name=str(raw["name"]),
                scopes=tuple(str(s) for s in raw.get("scopes") or ()),
                valid_to=parse_time(raw.get("valid_to")),
            )
        return cls(valid=bool(data["valid"]), status=str(data["status"]), token=token)


@dataclass(frozen=True)
class Health:
    status: str
    database: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Health:
        return cls(status=str(data.get("status", "")), database=str(data.get("database", "")))

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.database == "ok"
