"""Request and response shapes. Requests are parsed strictly: unknown fields, wrong types and
timestamps without an offset are refused with the field named. The same models describe the
API in the OpenAPI document, so the document cannot drift from what is served.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
)

from .guids import random_looking
from .names import name_pattern, normalized_name

NAME_PATTERN = r"^[a-z0-9][a-z0-9._:-]{0,63}$"
GUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# The same rules for the document, which cannot see the validators below.
_DOC_NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
_DOC_NO_CONTROL_BUT_LINES = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
# RFC 3339 date-time, as OpenAPI's "date-time" means it: seconds and an offset required, no
# space for the T. Parsers are laxer (pydantic takes "4102444800" as seconds since 1970).
RFC3339 = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_RFC3339 = re.compile(RFC3339)
# Query numbers: ASCII digits only; int() would also take "1_0", " 1", "+1" and Arabic-Indic digits.
_DIGITS = re.compile(r"[0-9]+")


def _rfc3339(value: object) -> object:
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 timestamp with an offset, like 2026-11-28T10:00:00Z")
    return value


def _digits(value: object) -> object:
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        raise ValueError("must be a whole number written with the digits 0-9")
    return value


def _to_utc_millis(value: datetime) -> datetime:
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00 lies past the last representable year
        raise ValueError("lies outside the years 1 to 9999 in UTC") from None
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _no_control_but_lines(value: str) -> str:
    if _CONTROL_BUT_LINES.search(value):
        raise ValueError("must not contain control characters other than line breaks and tabs")
    return value


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("must not name a scope twice")
    return values


def _format_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Input: RFC 3339 with an offset, kept at the millisecond precision MongoDB stores.
# The text is checked first; the datetime parser after it runs lax, as it cannot take text in
# strict mode once a validator stands before it, and only RFC 3339 text reaches it.
TimestampIn = Annotated[
    AwareDatetime,
    Field(strict=False),
    BeforeValidator(_rfc3339),
    AfterValidator(_to_utc_millis),
    Field(json_schema_extra={"pattern": RFC3339}),
]
# Output: always UTC, always "…T10:00:00.000Z".
Timestamp = Annotated[datetime, PlainSerializer(_format_timestamp, return_type=str)]
TokenName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(normalized_name),
    # Built when the document is: the rule spelled out is 1,500 ranges of code points.
    Field(json_schema_extra=lambda schema: schema.update(pattern=name_pattern())),
]
Description = Annotated[
    str,
    StringConstraints(max_length=2000),
    AfterValidator(_no_control_but_lines),
    Field(json_schema_extra={"pattern": _DOC_NO_CONTROL_BUT_LINES}),
]
ScopeName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
UserName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
_UNIQUE = Field(json_schema_extra={"uniqueItems": True})
ScopeList = Annotated[
    list[ScopeName], Field(min_length=1, max_length=100), AfterValidator(_unique), _UNIQUE
]
UserScopes = Annotated[list[ScopeName], Field(max_length=100), AfterValidator(_unique), _UNIQUE]
Guid = Annotated[str, StringConstraints(pattern=GUID_PATTERN), AfterValidator(random_looking)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TokenCreate(Strict):
    name: TokenName
    scopes: ScopeList
    description: Description = ""
    guid: Guid | None = Field(
        None,
        description="Canonical lowercase UUID v4 that looks randomly drawn (not all zeros, "
        "not counting); made by the server when absent.",
    )
    valid_from: TimestampIn | None = Field(None, description="Absent: active from creation.")
    valid_to: TimestampIn | None = Field(None, description="Absent: never expires.")


class TokenPatch(Strict):
    name: TokenName = None  # type: ignore[assignment]
    scopes: ScopeList = None  # type: ignore[assignment]
    description: Description = None  # type: ignore[assignment]
    guid: Guid = None  # type: ignore[assignment]
    valid_from: TimestampIn | None = Field(None, description="null: active from now.")
    valid_to: TimestampIn | None = Field(None, description="null: never expires.")


class VerifyRequest(Strict):
    guid: Annotated[str, StringConstraints(max_length=100)]
    scopes: Annotated[list[ScopeName], Field(max_length=100)] = []


class ScopeCreate(Strict):
    name: ScopeName
    description: Description = ""


class UserCreate(Strict):
    name: UserName
    scopes: UserScopes = []
    admin: bool = False


class UserPatch(Strict):
    scopes: UserScopes = None  # type: ignore[assignment]
    admin: bool = None  # type: ignore[assignment]


class TokenListQuery(BaseModel):
    """Query parameters arrive as text; numbers are parsed from it (lax), everything else strict."""

    model_config = ConfigDict(extra="forbid")
    name: (
        Annotated[
            str,
            StringConstraints(max_length=200),
            AfterValidator(_no_control),
            Field(json_schema_extra={"pattern": _DOC_NO_CONTROL}),
        ]
        | None
    ) = None
    guid: Annotated[str, StringConstraints(min_length=4, max_length=36)] | None = None
    scope: Annotated[list[ScopeName], Field(max_length=100)] = []
    status: Literal["active", "inactive"] | None = None
    sort: Literal["name", "-name", "is_active", "-is_active"] = "name"
    # Bounds before the digits check, so the document shows them as minimum and maximum.
    limit: Annotated[int, Field(ge=1, le=200), BeforeValidator(_digits)] = 50
    offset: Annotated[int, Field(ge=0, le=1_000_000_000), BeforeValidator(_digits)] = 0


# ---- responses -------------------------------------------------------------------------------


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenOut(Out):
    id: str
    name: str
    guid: str | None = Field(
        description="The whole GUID, for a caller who holds every scope of the token (who may "
        "change it); null for one who sees it through some of its scopes only."
    )
    guid_prefix: str = Field(
        description="The GUID's first 8 characters, served to everyone who sees the token: "
        "enough to recognise it, not to use it."
    )
    description: str
    scopes: list[str]
    valid_from: Timestamp
    valid_to: Timestamp | None
    is_active: bool
    status: Literal["scheduled", "active", "expired", "revoked"]
    created_at: Timestamp
    created_by: str
    updated_at: Timestamp
    updated_by: str
    revoked_at: Timestamp | None
    revoked_by: str | None
    last_used_at: Timestamp | None
    version: int
    can_change: bool = Field(
        description="True when the caller holds every scope of the token, so may change, "
        "revoke or delete it; clients read this rather than restate the rule."
    )


class TokenPageOut(Out):
    items: list[TokenOut]
    total: int
    limit: int
    offset: int


class VerifiedToken(Out):
    id: str
    name: str
    scopes: list[str]
    valid_to: Timestamp | None


class VerifyOut(Out):
    valid: bool
    status: Literal["active", "not_found", "scheduled", "expired", "revoked", "insufficient_scope"]
    token: VerifiedToken | None = None


class ScopeOut(Out):
    name: str
    description: str
    created_at: Timestamp


class ScopeListOut(Out):
    items: list[ScopeOut]


class UserOut(Out):
    name: str
    scopes: list[str]
    admin: bool
    created_at: Timestamp
    updated_at: Timestamp


class UserWithKeyOut(UserOut):
    api_key: str = Field(description="Shown this once; only its hash is stored.")


class UserListOut(Out):
    items: list[UserOut]


class MeOut(Out):
    name: str
    admin: bool
    scopes: list[str]


class HealthOut(Out):
    # "saturated": serving TOKENS_MAX_IN_FLIGHT requests; more answer 503 until some end.
    status: Literal["ok", "unavailable", "saturated"]
    database: Literal["ok", "unavailable"]


class FieldErrorOut(Out):
    field: str
    message: str


class ProblemOut(Out):
    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldErrorOut] = []


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=False)
