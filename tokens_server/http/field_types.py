"""The field types of the request and response models: what each kind of value must look like
on the way in (names, scopes, GUIDs, timestamps, texts) and how timestamps are written out.
Each type carries its rule for the OpenAPI document too, as a pattern or a bound.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    PlainSerializer,
    StringConstraints,
)

from tokens_server.domain.guids import GUID_PATTERN, random_looking
from tokens_server.domain.limits import (
    BULK_IDS_MAX,
    DESCRIPTION_MAX,
    EVENT_ID_MAX,
    GRACE_MAX_S,
    LIST_DAYS_MAX,
    PAGE_SIZE_MAX,
    SCOPES_MAX,
    TOKEN_NAME_MAX,
)
from tokens_server.domain.names import name_pattern, normalized_name

NAME_PATTERN = r"^[a-z0-9][a-z0-9._:-]{0,63}$"
# Token ids are ObjectIds as served; the routes hold their path variable to the same.
OBJECT_ID_PATTERN = "[0-9a-f]{24}"
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


def _whole(value: object) -> object:
    # JSON has one kind of number: 3600.0 is the integer 3600 to JSON Schema, so to us too.
    if isinstance(value, float) and value.is_integer():
        return int(value)
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


def _unique_ids(values: list[str]) -> list[str]:
    # Refused rather than merged: one outcome per id named, in the order named, stays true.
    if len(set(values)) != len(values):
        raise ValueError("must not name a token twice")
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
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TOKEN_NAME_MAX),
    AfterValidator(normalized_name),
    # Built when the document is: the rule spelled out is 1,500 ranges of code points.
    Field(json_schema_extra=lambda schema: schema.update(pattern=name_pattern())),
]
Description = Annotated[
    str,
    StringConstraints(max_length=DESCRIPTION_MAX),
    AfterValidator(_no_control_but_lines),
    Field(json_schema_extra={"pattern": _DOC_NO_CONTROL_BUT_LINES}),
]
ScopeName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
UserName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
_UNIQUE = Field(json_schema_extra={"uniqueItems": True})
ScopeList = Annotated[
    list[ScopeName], Field(min_length=1, max_length=SCOPES_MAX), AfterValidator(_unique), _UNIQUE
]
UserScopes = Annotated[
    list[ScopeName], Field(max_length=SCOPES_MAX), AfterValidator(_unique), _UNIQUE
]
TokenId = Annotated[str, StringConstraints(pattern=f"^{OBJECT_ID_PATTERN}$")]
TokenIds = Annotated[
    list[TokenId],
    Field(min_length=1, max_length=BULK_IDS_MAX),
    AfterValidator(_unique_ids),
    _UNIQUE,
]
Guid = Annotated[str, StringConstraints(pattern=GUID_PATTERN), AfterValidator(random_looking)]
# Bounds before the validator, so the document shows them as minimum and maximum.
Grace = Annotated[
    int,
    Field(
        ge=0,
        le=GRACE_MAX_S,
        description="Seconds the GUID being replaced keeps working beside the new one "
        "(verify then answers `superseded`); 0, the default, ends it at once.",
    ),
    BeforeValidator(_whole),
]

NameFilter = Annotated[
    str,
    StringConstraints(max_length=TOKEN_NAME_MAX),
    AfterValidator(_no_control),
    Field(json_schema_extra={"pattern": _DOC_NO_CONTROL}),
]
# For a query number, after its bounds (so the document shows them as minimum and maximum).
DIGITS_ONLY = BeforeValidator(_digits)

# Query numbers.
PageSize = Annotated[int, Field(ge=1, le=PAGE_SIZE_MAX), DIGITS_ONLY]
EventId = Annotated[int, Field(ge=0, le=EVENT_ID_MAX), DIGITS_ONLY]
Days = Annotated[int, Field(ge=0, le=LIST_DAYS_MAX), DIGITS_ONLY]
# A recorded field's value: text, a list of scopes, a flag, a date, or null (not set).
ChangedValue = Timestamp | bool | str | list[str] | None
