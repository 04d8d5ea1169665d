"""Usage: one token's counts per hour or day, and every visible token's totals over a window."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tokens_server.domain.limits import (
    OFFSET_MAX,
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    USAGE_BUCKETS_MAX,
    USAGE_DEFAULT_DAYS,
    USAGE_WINDOW_MAX_DAYS,
)
from tokens_server.domain.usage import Bucket, TokenUsage, UsageCounts, UsageSeries, UsageSort
from tokens_server.http.field_types import DIGITS_ONLY, PageSize, Timestamp, TimestampIn, TokenId
from tokens_server.http.schemas.base import Out

_FROM = (
    f"Start of the window, rounded down to its bucket (UTC). Absent: {USAGE_DEFAULT_DAYS} days "
    f"before `to`; at most {USAGE_WINDOW_MAX_DAYS} days before it."
)
_TO = "End of the window (excluded), rounded up to its bucket (UTC). Absent: now."
_DAYS = " The buckets of the totals are UTC days."


class UsageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_: TimestampIn | None = Field(None, alias="from", description=_FROM)
    to: TimestampIn | None = Field(None, description=_TO)
    bucket: Bucket = Field(
        "day", description=f"Counts per UTC hour or day; at most {USAGE_BUCKETS_MAX} buckets."
    )


class UsageSummaryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_: TimestampIn | None = Field(None, alias="from", description=_FROM + _DAYS)
    to: TimestampIn | None = Field(None, description=_TO + _DAYS)
    sort: UsageSort = Field(
        "-uses", description="By uses or refusals in the window; ties by token id."
    )
    limit: PageSize = PAGE_SIZE_DEFAULT
    offset: Annotated[int, Field(ge=0, le=OFFSET_MAX), DIGITS_ONLY] = 0
    series: Literal["day"] | None = Field(
        None,
        description="`day`: each listed token also gets its counts per UTC day of the window "
        "(`daily`).",
    )
    ids: Annotated[list[TokenId], Field(max_length=PAGE_SIZE_MAX)] = Field(
        [],
        description=f"Only these tokens (repeat the parameter; at most {PAGE_SIZE_MAX}), as a "
        "page of a token list asks for its own; those the caller does not see are left out.",
    )


class RefusalsOut(Out):
    revoked: int
    expired: int
    not_yet_active: int
    missing_scopes: int = Field(description="Verified for scopes the token does not have.")
    superseded_after_grace: int = Field(
        description="A GUID the token had before a regeneration, tried after its grace ended."
    )


class CountsOut(Out):
    uses: int = Field(description="Verifications answered valid.")
    refused: int = Field(description="Verifications of the token refused, for any reason.")
    refusals: RefusalsOut

    @classmethod
    def of(cls, counts: UsageCounts) -> CountsOut:
        return cls(**_counts(counts))


def _counts(counts: UsageCounts) -> dict[str, Any]:
    """A CountsOut's fields: for the models that extend it."""
    refusals = RefusalsOut(**counts.by_reason())
    return {"uses": counts.uses, "refused": counts.refused, "refusals": refusals}


class UsageBucketOut(CountsOut):
    start: Timestamp


class UsageSeriesOut(Out):
    # "from" is a Python keyword: the field is from_, written as "from".
    model_config = ConfigDict(serialize_by_alias=True)
    token_id: str
    bucket: Bucket
    from_: Timestamp = Field(serialization_alias="from")
    to: Timestamp
    buckets: list[UsageBucketOut]
    totals: CountsOut

    @classmethod
    def of(cls, series: UsageSeries) -> UsageSeriesOut:
        window = series.window
        # Validated as one tree of plain values: up to 2,000 buckets, which built one model at
        # a time would cost 50 ms.
        buckets = [{"start": start, **_plain(counts)} for start, counts in series.buckets]
        return cls.model_validate(
            {
                "token_id": series.token_id,
                "bucket": window.bucket,
                "from_": window.start,
                "to": window.end,
                "buckets": buckets,
                "totals": _plain(series.totals),
            }
        )


def _plain(counts: UsageCounts) -> dict[str, Any]:
    return {"uses": counts.uses, "refused": counts.refused, "refusals": counts.by_reason()}


class DayOut(Out):
    start: Timestamp
    uses: int
    refused: int


class TokenUsageOut(CountsOut):
    token_id: str
    name: str
    last_used_at: Timestamp | None
    daily: list[DayOut] | None = Field(None, description="With `series=day` only.")

    @classmethod
    def of_usage(cls, usage: TokenUsage, days: list[datetime]) -> TokenUsageOut:
        daily = None
        if usage.daily is not None:
            daily = [
                DayOut(start=start, uses=c.uses, refused=c.refused)
                for start, c in zip(days, usage.daily, strict=True)
            ]
        return cls(
            token_id=usage.token_id,
            name=usage.name,
            last_used_at=usage.last_used_at,
            daily=daily,
            **_counts(usage.counts),
        )


class UsageSummaryOut(Out):
    model_config = ConfigDict(serialize_by_alias=True)
    from_: Timestamp = Field(serialization_alias="from")
    to: Timestamp
    items: list[TokenUsageOut]
    total: int
    limit: int
    offset: int
