"""Usage: how often each token was verified valid, and refused why, per UTC hour or day."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

# Why a verification of a known token was refused. ``missing_scopes`` is the verify status
# ``insufficient_scope``; ``superseded_after_grace`` a token's previous GUID past its grace.
Refusal = Literal[
    "revoked", "expired", "not_yet_active", "missing_scopes", "superseded_after_grace"
]
REFUSALS: tuple[Refusal, ...] = get_args(Refusal)
# What one verification of a known token counts as: a use, or a refusal.
Outcome = Literal[
    "uses", "revoked", "expired", "not_yet_active", "missing_scopes", "superseded_after_grace"
]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
Bucket = Literal["hour", "day"]
BUCKET_LENGTH: dict[Bucket, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
UsageSort = Literal["uses", "-uses", "refused", "-refused"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class UsageCounts:
    """Uses, and refusals by reason in ``REFUSALS`` order."""

    uses: int = 0
    refusals: tuple[int, ...] = (0,) * len(REFUSALS)

    @classmethod
    def of(cls, counts: Mapping[str, Any]) -> UsageCounts:
        """Counts named by outcome, as stored; a missing (or null) one is zero."""
        return cls(int(counts.get("uses") or 0), tuple(int(counts.get(r) or 0) for r in REFUSALS))

    @property
    def refused(self) -> int:
        return sum(self.refusals)

    def by_reason(self) -> dict[Refusal, int]:
        return dict(zip(REFUSALS, self.refusals, strict=True))

    def __add__(self, other: UsageCounts) -> UsageCounts:
        summed = tuple(a + b for a, b in zip(self.refusals, other.refusals, strict=True))
        return UsageCounts(self.uses + other.uses, summed)


ZERO = UsageCounts()


def bucket_start(moment: datetime, bucket: Bucket) -> datetime:
    """The start of the UTC bucket ``moment`` falls in."""
    length = BUCKET_LENGTH[bucket]
    return _EPOCH + (moment - _EPOCH) // length * length


def bucket_end(moment: datetime, bucket: Bucket) -> datetime:
    """``moment`` rounded up to a bucket boundary (itself when on one)."""
    start = bucket_start(moment, bucket)
    return start if start == moment else start + BUCKET_LENGTH[bucket]


@dataclass(frozen=True)
class UsageWindow:
    """``start`` to ``end`` (excluded), on ``bucket`` boundaries."""

    start: datetime
    end: datetime
    bucket: Bucket

    def starts(self) -> list[datetime]:
        length = BUCKET_LENGTH[self.bucket]
        return [self.start + n * length for n in range((self.end - self.start) // length)]


@dataclass(frozen=True)
class UsageSeries:
    token_id: str
    window: UsageWindow
    buckets: list[tuple[datetime, UsageCounts]]

    @property
    def totals(self) -> UsageCounts:
        counts = [c for _, c in self.buckets]
        if not counts:
            return ZERO
        # Summed by slot, not bucket by bucket: a series has up to 2,000 buckets.
        refusals = tuple(map(sum, zip(*(c.refusals for c in counts), strict=True)))
        return UsageCounts(sum(c.uses for c in counts), refusals)


@dataclass(frozen=True)
class TokenUsage:
    """One token's totals over a window; ``daily``, when asked for, its counts per day."""

    token_id: str
    name: str
    counts: UsageCounts
    last_used_at: datetime | None
    daily: list[UsageCounts] | None = None


@dataclass(frozen=True)
class UsagePage:
    items: list[TokenUsage]
    total: int
