"""Typed results of the Tokens API, parsed from its JSON answers by pydantic.

Unknown fields are ignored, so a newer server's additions do not break an older client;
timestamps without an offset are refused rather than guessed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


def format_time(value: datetime) -> str:
    """A timezone-aware datetime as RFC 3339; naive datetimes are refused, never guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetimes sent to the API must be timezone-aware")
    return value.isoformat()


class ApiModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Token(ApiModel):
    """An API token as the server shows it."""

    id: str
    name: str
    # None when the caller does not hold every scope of the token: the server keeps the GUID
    # from those who only share some of its scopes, and sends its first characters instead.
    guid: str | None
    guid_prefix: str
    description: str = ""
    scopes: tuple[str, ...]
    valid_from: AwareDatetime
    valid_to: AwareDatetime | None = None
    is_active: bool
    status: str
    created_at: AwareDatetime
    created_by: str = ""
    updated_at: AwareDatetime
    updated_by: str = ""
    revoked_at: AwareDatetime | None = None
    revoked_by: str | None = None
    last_used_at: AwareDatetime | None = None
    # After a regeneration with a grace: until when the GUID it replaced still verifies.
    previous_guid_until: AwareDatetime | None = None
    version: int
    # Whether the caller may change, revoke or delete it; the server decides.
    can_change: bool

    @property
    def revoked(self) -> bool:
        return self.status == "revoked"


class TokenPage(ApiModel):
    """One page of ``GET /tokens``: the tokens and where they sit in the whole result."""

    items: tuple[Token, ...]
    total: int
    limit: int
    offset: int


class Scope(ApiModel):
    name: str
    description: str = ""


class User(ApiModel):
    """A caller of the API: ``GET /me`` and the admin's user calls answer this."""

    name: str
    scopes: tuple[str, ...] = ()
    admin: bool = False


class UserWithKey(ApiModel):
    """A user together with its API key, which the server shows only this once."""

    user: User
    api_key: str = Field(repr=False)

    @model_validator(mode="before")
    @classmethod
    def _nest_the_user(cls, data: Any) -> Any:
        # The server answers the user's fields and its key side by side.
        if isinstance(data, dict) and "user" not in data:
            return {"user": data, "api_key": data.get("api_key")}
        return data

    def __repr__(self) -> str:  # keep keys out of logs and notebook outputs
        return f"UserWithKey(user={self.user!r}, api_key='***')"


class VerifiedToken(ApiModel):
    id: str
    name: str
    scopes: tuple[str, ...] = ()
    valid_to: AwareDatetime | None = None


class Verification(ApiModel):
    """The answer of ``POST /tokens/verify``."""

    valid: bool
    status: str
    token: VerifiedToken | None = None
    # The GUID was replaced with a grace: it works until ``superseded_until``, then no more.
    superseded: bool = False
    superseded_until: AwareDatetime | None = None


class BulkItem(ApiModel):
    """What became of one id of a bulk change: ``outcome`` is revoked or deleted, or the
    refusal (not_found, forbidden, conflict) with its reason in ``detail``."""

    id: str
    # Text, not a closed set, so that a newer server's outcome does not break this client.
    outcome: str
    detail: str | None = None


class BulkCounts(ApiModel):
    revoked: int = 0
    deleted: int = 0
    not_found: int = 0
    forbidden: int = 0
    conflict: int = 0


class BulkResult(ApiModel):
    """The answer of ``POST /tokens/bulk-revoke`` and ``/bulk-delete``: one item per id, in the
    order sent, and how many had each outcome."""

    results: tuple[BulkItem, ...]
    counts: BulkCounts

    def ids(self, outcome: str) -> list[str]:
        """The ids that had ``outcome``, in the order sent."""
        return [item.id for item in self.results if item.outcome == outcome]


class FieldChange(ApiModel):
    """One recorded field of a change, as it was (``from_``, ``"from"`` in JSON) and became."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)
    from_: Any = Field(default=None, alias="from")
    to: Any = None


class Event(ApiModel):
    """One change in the history: who did what, when, and each field's old and new value.

    Never holds a GUID or a key; a new GUID shows as a changed ``guid_prefix``.
    """

    id: int
    at: AwareDatetime
    actor: str
    # A str rather than the server's list of actions, so a newer server's actions still parse.
    action: str
    token_id: str | None = None
    token_name: str | None = None
    scopes: tuple[str, ...] = ()
    version: int | None = None
    changes: dict[str, FieldChange] = Field(default_factory=dict)
    user: str | None = None
    scope: str | None = None


class EventPage(ApiModel):
    """A page of events and the cursor for the next one (``before`` or ``after``, by call)."""

    items: tuple[Event, ...]
    next: int | None = None


class Health(ApiModel):
    status: str = ""
    database: str = ""
    # "memory" or "database": where the server answers lists from now, and why the database.
    lists: str = ""
    lists_detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.database == "ok"
