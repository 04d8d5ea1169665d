"""Domain objects: what the repository answers and the handlers serialize. No BSON here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Literal, get_args

TokenStatus = Literal["scheduled", "active", "expired", "revoked"]
TokenSort = Literal[
    "name",
    "-name",
    "is_active",
    "-is_active",
    "valid_from",
    "-valid_from",
    "valid_to",
    "-valid_to",
    "last_used_at",
    "-last_used_at",
    "created_at",
    "-created_at",
]
StatusFilter = Literal["active", "inactive"]
# What became of one id of a bulk change: changed, or refused as the single change would be.
BulkOutcome = Literal["revoked", "deleted", "not_found", "forbidden", "conflict"]
# The events that may change who an existing user is as a caller: its key, scopes or existence.
UserChange = Literal["user.updated", "user.key_rotated", "user.deleted"]
USER_CHANGES: frozenset[str] = frozenset(get_args(UserChange))
EventAction = Literal[
    "token.created",
    "token.updated",
    "token.regenerated",
    "token.revoked",
    "token.deleted",
    "user.created",
    UserChange,
    "scope.created",
    "scope.deleted",
]


class Unset(Enum):
    """A field a change leaves as it is; distinct from None, which some fields take as a value."""

    UNSET = "unset"


UNSET = Unset.UNSET


class _Change:
    """A change: the fields it sets, by name, are those that are not UNSET."""

    def set_fields(self) -> dict[str, Any]:
        return {name: value for name, value in vars(self).items() if value is not UNSET}


@dataclass(frozen=True)
class Token:
    id: str
    name: str
    guid: str
    description: str
    scopes: list[str]
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
    # After a GUID was replaced with a grace: until when the one before it still verifies.
    previous_guid_until: datetime | None = None

    def status(self, now: datetime) -> TokenStatus:
        if self.revoked_at is not None:
            return "revoked"
        if self.valid_from > now:
            return "scheduled"
        if self.valid_to is not None and self.valid_to <= now:
            return "expired"
        return "active"

    def is_active(self, now: datetime) -> bool:
        return self.status(now) == "active"

    def previous_guid_works_until(self, now: datetime) -> datetime | None:
        """Until when the GUID before this one still verifies; None once it does not. Revoking
        or expiring the token ends both GUIDs."""
        until = self.previous_guid_until
        return until if until is not None and until > now and self.is_active(now) else None


@dataclass(frozen=True)
class User:
    id: str
    name: str
    scopes: list[str]
    admin: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Scope:
    name: str
    description: str
    created_at: datetime


@dataclass(frozen=True)
class Caller:
    """The authenticated user of a request, with the scopes it holds (admins: every scope)."""

    name: str
    admin: bool
    scopes: frozenset[str]
    # Names are reused: a user deleted and made again under its name is another user, and must
    # not see the events about the first one.
    user_id: str

    def holds(self, scope: str) -> bool:
        return self.admin or scope in self.scopes

    def holds_all(self, scopes: list[str]) -> bool:
        """Whether the caller holds every one of a token's scopes: only then may it change the
        token or receive its GUID. The GUID verifies for all of them, so seeing the token
        through one shared scope must not hand it over."""
        return all(self.holds(scope) for scope in scopes)

    def sees(self, scopes: list[str]) -> bool:
        return self.admin or not self.scopes.isdisjoint(scopes)

    def sees_event(self, event: Event) -> bool:
        """Admins see every event; a user sees a token's events whose scopes (the token's at that
        moment) share one with its own, and the events about itself. The repository asks the
        same as a query (``storage.events.visible_to``)."""
        if self.admin or event.user_id == self.user_id:
            return True
        return event.token_id is not None and not self.scopes.isdisjoint(event.scopes)


@dataclass(frozen=True)
class BulkResult:
    """One id's outcome in a bulk change; ``detail`` says why when it was refused."""

    id: str
    outcome: BulkOutcome
    detail: str | None = None


@dataclass(frozen=True)
class NewToken:
    """A token to make. ``guid`` None: the server draws one; ``valid_from`` None: from now."""

    name: str
    scopes: list[str]
    description: str = ""
    guid: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None


@dataclass(frozen=True)
class TokenChanges(_Change):
    """A change to a token: UNSET fields stay; ``valid_from`` None means from now, ``valid_to``
    None means never expires."""

    name: str | Unset = UNSET
    scopes: list[str] | Unset = UNSET
    description: str | Unset = UNSET
    guid: str | Unset = UNSET
    # With a new ``guid``: how long the one it replaces keeps working (zero: it stops now).
    grace: timedelta | Unset = UNSET
    valid_from: datetime | Unset | None = UNSET
    valid_to: datetime | Unset | None = UNSET


@dataclass(frozen=True)
class TokenSearch:
    """What a caller asks a token list for, before the rules decide which scopes it covers."""

    name: str | None
    guid: str | None
    scopes: tuple[str, ...]
    status: StatusFilter | None
    sort: TokenSort
    limit: int
    offset: int
    # Active tokens whose valid_to falls within this many days; tokens never used, or not used
    # in this many days; tokens refused a verification within this many days.
    expires_within: int | None = None
    unused_for: int | None = None
    refused_within: int | None = None


VerificationStatus = Literal[
    "active", "not_found", "scheduled", "expired", "revoked", "insufficient_scope"
]


@dataclass(frozen=True)
class Verification:
    """The answer to "is this GUID valid for these scopes?"; ``token`` only when it is."""

    valid: bool
    status: VerificationStatus
    token: Token | None = None
    # The GUID was the token's previous one, which works until then beside its successor.
    superseded_until: datetime | None = None


@dataclass(frozen=True)
class NewUser:
    name: str
    scopes: list[str]
    admin: bool = False


@dataclass(frozen=True)
class UserChanges(_Change):
    """A change to a user: UNSET fields stay."""

    scopes: list[str] | Unset = UNSET
    admin: bool | Unset = UNSET


@dataclass(frozen=True)
class TokenQuery:
    """A validated list query. ``scopes`` None means every scope (an admin without a filter)."""

    keywords: tuple[str, ...]
    guid_prefix: str | None
    scopes: tuple[str, ...] | None
    # Whose GUIDs a ``guid_prefix`` may be matched against beyond the stored prefix.
    caller: Caller
    status: StatusFilter | None
    sort: TokenSort
    limit: int
    offset: int
    expires_within: int | None = None
    unused_for: int | None = None
    refused_within: int | None = None


@dataclass(frozen=True)
class TokenPage:
    items: list[Token]
    total: int


def utcnow() -> datetime:
    """Now in UTC, at the millisecond precision that MongoDB stores."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class Event:
    """One change in the history. Never holds a GUID or a key; ``scopes`` are the token's at
    that moment, which decide who may see the event."""

    id: int
    at: datetime
    actor: str
    action: EventAction
    token_id: str | None
    token_name: str | None
    scopes: list[str]
    version: int | None
    changes: dict[str, Any]
    # The user or scope a user.* or scope.* event is about.
    user: str | None = None
    user_id: str | None = None
    scope: str | None = None


@dataclass(frozen=True)
class EventPage:
    """Events in the order asked for, and whether more follow in that order."""

    items: list[Event]
    more: bool
