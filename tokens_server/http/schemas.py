"""Request and response shapes. Over 250 lines: every model the API speaks, one table read by
the routes and the document; their field types live in field_types.py.

Requests are parsed strictly: unknown fields, wrong types and timestamps without an offset are
refused with the field named. The same models describe the API in the OpenAPI document, so the
document cannot drift from what is served.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tokens_server.domain.limits import (
    EVENT_ID_MAX,
    GUID_FILTER_MAX,
    GUID_FILTER_MIN,
    LIST_DAYS_MAX,
    OFFSET_MAX,
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    SCOPES_MAX,
    VERIFY_GUID_MAX,
)
from tokens_server.domain.models import (
    BulkOutcome,
    BulkResult,
    Event,
    EventAction,
    NewToken,
    NewUser,
    StatusFilter,
    TokenChanges,
    TokenSearch,
    TokenSort,
    TokenStatus,
    UserChanges,
    Verification,
    VerificationStatus,
)
from tokens_server.http.field_types import (
    DIGITS_ONLY,
    Description,
    Grace,
    Guid,
    NameFilter,
    ScopeList,
    ScopeName,
    Timestamp,
    TimestampIn,
    TokenIds,
    TokenName,
    UserName,
    UserScopes,
)


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
    # A grace is for the GUID a new one replaces: without a new guid it is refused.
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


class BulkRequest(Strict):
    ids: TokenIds = Field(
        description="The tokens to change, each named once; each is changed on its own, so "
        "a refusal of one leaves the others changed."
    )


class ScopeCreate(Strict):
    name: ScopeName
    description: Description = ""


class UserCreate(Strict):
    name: UserName
    scopes: UserScopes = []
    admin: bool = False

    def new_user(self) -> NewUser:
        return NewUser(name=self.name, scopes=self.scopes, admin=self.admin)


class UserPatch(Strict):
    scopes: UserScopes = None  # type: ignore[assignment]
    admin: bool = None  # type: ignore[assignment]

    def changes(self) -> UserChanges:
        return UserChanges(**{field: getattr(self, field) for field in self.model_fields_set})


PageSize = Annotated[int, Field(ge=1, le=PAGE_SIZE_MAX), DIGITS_ONLY]
EventId = Annotated[int, Field(ge=0, le=EVENT_ID_MAX), DIGITS_ONLY]
Days = Annotated[int, Field(ge=0, le=LIST_DAYS_MAX), DIGITS_ONLY]


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
        )


class HistoryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: PageSize = PAGE_SIZE_DEFAULT
    before: EventId | None = Field(
        None, description="Only events older than this event id: the `next` of the page before."
    )


class EventsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: PageSize = PAGE_SIZE_DEFAULT
    after: EventId = Field(
        0, description="Only events after this event id: the `next` of the page before."
    )


class StreamQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    after: EventId | None = Field(
        None,
        description="Start after this event id (a `Last-Event-ID` header takes precedence); "
        "without either, the stream sends the events from now on.",
    )


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


class BulkResultOut(Out):
    id: str
    outcome: BulkOutcome = Field(
        description="not_found: no such token, or none you can see; forbidden: you see it but "
        "lack one of its scopes; conflict: revoking a token that is not active."
    )
    detail: str | None = Field(description="Why it was refused; null when it was changed.")


class BulkCounts(Out):
    revoked: int = 0
    deleted: int = 0
    not_found: int = 0
    forbidden: int = 0
    conflict: int = 0


class BulkOut(Out):
    results: list[BulkResultOut] = Field(description="One per id sent, in the order sent.")
    counts: BulkCounts = Field(description="How many ids had each outcome.")

    @classmethod
    def of(cls, results: list[BulkResult]) -> BulkOut:
        counts = BulkCounts(**Counter[str](result.outcome for result in results))
        return cls(results=[BulkResultOut(**vars(r)) for r in results], counts=counts)


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


# A recorded field's value: text, a list of scopes, a flag, a date, or null (not set).
ChangedValue = Timestamp | bool | str | list[str] | None


class FieldChange(Out):
    model_config = ConfigDict(extra="forbid", serialize_by_alias=True)
    from_: ChangedValue = Field(alias="from")
    to: ChangedValue


class EventOut(Out):
    id: int = Field(description="Increases in the order the changes were made.")
    at: Timestamp
    actor: str = Field(description="The user who made the change.")
    action: EventAction
    token_id: str | None
    token_name: str | None
    scopes: list[str] = Field(description="The token's scopes when the change was made.")
    version: int | None = Field(description="The token's version the change left.")
    changes: dict[str, FieldChange] = Field(
        description="Each recorded field that changed, as it was and as it became; never a "
        "GUID or a key (a new GUID shows as a new `guid_prefix`)."
    )
    user: str | None = Field(description="The user a user.* event is about.")
    scope: str | None = Field(description="The scope a scope.* event is about.")

    @classmethod
    def of(cls, event: Event) -> EventOut:
        # The user id only tells apart users of one name, for who may see the event.
        return cls(**{k: v for k, v in vars(event).items() if k != "user_id"})


class EventPageOut(Out):
    items: list[EventOut]
    next: int | None = Field(
        description="The cursor for the next page: for a history, the `before` of older events "
        "(null when there are none); for the event list, the `after` to ask with next, also "
        "when this page was empty."
    )


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


def dump_json(model: BaseModel) -> bytes:
    """The model as JSON, encoded in one pass: no dict in between, no ``json.dumps``."""
    return model.__pydantic_serializer__.to_json(model)
