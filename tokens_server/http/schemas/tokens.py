"""Tokens: create, edit, regenerate, verify and list them, and how a token is answered."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tokens_server.domain.limits import (
    GUID_FILTER_MAX,
    GUID_FILTER_MIN,
    OFFSET_MAX,
    PAGE_SIZE_DEFAULT,
    SCOPES_MAX,
    VERIFY_GUID_MAX,
)
from tokens_server.domain.models import (
    NewToken,
    StatusFilter,
    TokenChanges,
    TokenSearch,
    TokenSort,
    TokenStatus,
    Verification,
    VerificationStatus,
)
from tokens_server.http.field_types import (
    DIGITS_ONLY,
    Days,
    Description,
    Grace,
    Guid,
    NameFilter,
    PageSize,
    ScopeList,
    ScopeName,
    Timestamp,
    TimestampIn,
    TokenName,
)
from tokens_server.http.schemas.base import (
    Out,
    Strict,
)


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

    def new_token(self) -> NewToken:
        return NewToken(
            name=self.name,
            scopes=self.scopes,
            description=self.description,
            guid=self.guid,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
        )


class TokenPatch(Strict):
    # A grace is for the GUID a new one replaces: without a guid it is refused (with the
    # token's own GUID it has nothing to apply to, and the edit changes nothing).
    model_config = ConfigDict(json_schema_extra={"dependentRequired": {"grace": ["guid"]}})
    name: TokenName = None  # type: ignore[assignment]
    scopes: ScopeList = None  # type: ignore[assignment]
    description: Description = None  # type: ignore[assignment]
    guid: Guid = None  # type: ignore[assignment]
    grace: Grace = 0
    valid_from: TimestampIn | None = Field(None, description="null: active from now.")
    valid_to: TimestampIn | None = Field(None, description="null: never expires.")

    def changes(self) -> TokenChanges:
        """The fields the request names, null included; those it leaves out stay UNSET."""
        fields = {field: getattr(self, field) for field in self.model_fields_set}
        if "grace" in fields:
            fields["grace"] = timedelta(seconds=self.grace)
        return TokenChanges(**fields)


class RegenerateRequest(Strict):
    """Optional: without a body, the GUID being replaced stops working at once."""

    grace: Grace = 0


class VerifyRequest(Strict):
    guid: Annotated[str, StringConstraints(max_length=VERIFY_GUID_MAX)]
    scopes: Annotated[list[ScopeName], Field(max_length=SCOPES_MAX)] = []


class TokenListQuery(BaseModel):
    """Query parameters arrive as text; numbers are parsed from it (lax), everything else strict."""

    model_config = ConfigDict(extra="forbid")
    name: NameFilter | None = None
    guid: (
        Annotated[str, StringConstraints(min_length=GUID_FILTER_MIN, max_length=GUID_FILTER_MAX)]
        | None
    ) = None
    scope: Annotated[list[ScopeName], Field(max_length=SCOPES_MAX)] = []
    status: StatusFilter | None = None
    sort: TokenSort = "name"
    # Bounds before the digits check, so the document shows them as minimum and maximum.
    limit: PageSize = PAGE_SIZE_DEFAULT
    offset: Annotated[int, Field(ge=0, le=OFFSET_MAX), DIGITS_ONLY] = 0
    expires_within: Days | None = Field(
        None, description="Only active tokens whose valid_to falls within this many days."
    )
    unused_for: Days | None = Field(
        None, description="Only tokens never used, or not used in this many days."
    )
    refused_within: Days | None = Field(
        None,
        description="Only tokens whose GUID was refused by a verification within this many "
        "days (revoked, expired, not yet active, missing scopes, or replaced past its grace).",
    )

    def search(self) -> TokenSearch:
        return TokenSearch(
            name=self.name,
            guid=self.guid,
            scopes=tuple(self.scope),
            status=self.status,
            sort=self.sort,
            limit=self.limit,
            offset=self.offset,
            expires_within=self.expires_within,
            unused_for=self.unused_for,
            refused_within=self.refused_within,
        )


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
    status: TokenStatus
    created_at: Timestamp
    created_by: str
    updated_at: Timestamp
    updated_by: str
    revoked_at: Timestamp | None
    revoked_by: str | None
    last_used_at: Timestamp | None
    previous_guid_until: Timestamp | None = Field(
        description="After a regeneration with a grace: until when the GUID before this one "
        "still verifies; null when it does not (none, its grace ended, or the token ended)."
    )
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
    status: VerificationStatus
    token: VerifiedToken | None = None
    superseded: bool = Field(
        False,
        description="The GUID was replaced with a grace: it verifies until `superseded_until`, "
        "then no more. Move to the token's new GUID before then.",
    )
    superseded_until: Timestamp | None = None

    @classmethod
    def of(cls, verification: Verification) -> VerifyOut:
        token = verification.token
        summary = (
            None
            if token is None
            else VerifiedToken(
                id=token.id, name=token.name, scopes=token.scopes, valid_to=token.valid_to
            )
        )
        until = verification.superseded_until
        return cls(
            valid=verification.valid,
            status=verification.status,
            token=summary,
            superseded=until is not None,
            superseded_until=until,
        )
