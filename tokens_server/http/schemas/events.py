"""The history and the live stream: which events to read, and how an event is answered."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tokens_server.domain.limits import (
    PAGE_SIZE_DEFAULT,
)
from tokens_server.domain.models import (
    Event,
    EventAction,
)
from tokens_server.http.field_types import (
    ChangedValue,
    EventId,
    PageSize,
    Timestamp,
)
from tokens_server.http.schemas.base import (
    Out,
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
