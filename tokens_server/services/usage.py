"""The rules of usage: which windows may be asked for, and who sees which token's counts (whoever
sees the token, as for reading it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tokens_server.domain.errors import Invalid, NotFound
from tokens_server.domain.limits import USAGE_BUCKETS_MAX, USAGE_DEFAULT_DAYS, USAGE_WINDOW_MAX_DAYS
from tokens_server.domain.models import Caller, utcnow
from tokens_server.domain.usage import (
    BUCKET_LENGTH,
    ZERO,
    Bucket,
    TokenUsage,
    UsageCounts,
    UsagePage,
    UsageSeries,
    UsageSort,
    UsageWindow,
    bucket_end,
    bucket_start,
)
from tokens_server.storage import Repository


def usage_window(
    start: datetime | None, end: datetime | None, bucket: Bucket, now: datetime
) -> UsageWindow:
    """The window asked for, by default the ``USAGE_DEFAULT_DAYS`` up to now, widened to whole
    buckets; refused naming the field when it is empty, too long or has too many buckets."""
    end = now if end is None else end
    try:
        start = end - timedelta(days=USAGE_DEFAULT_DAYS) if start is None else start
        window = UsageWindow(bucket_start(start, bucket), bucket_end(end, bucket), bucket)
    except OverflowError:
        raise Invalid.field("to", "lies too near the first or last representable date") from None
    if start >= end:
        raise Invalid.field("from", "must be before to")
    if end - start > timedelta(days=USAGE_WINDOW_MAX_DAYS):
        raise Invalid.field("from", f"must be at most {USAGE_WINDOW_MAX_DAYS} days before to")
    buckets = (window.end - window.start) // BUCKET_LENGTH[bucket]
    if buckets > USAGE_BUCKETS_MAX:
        raise Invalid.field(
            "bucket",
            f"the window holds {buckets} buckets of an {bucket}, more than {USAGE_BUCKETS_MAX}: "
            "ask by day or for a shorter window",
        )
    return window


@dataclass
class UsageService:
    repo: Repository

    async def series(
        self,
        caller: Caller,
        token_id: str,
        start: datetime | None,
        end: datetime | None,
        bucket: Bucket,
    ) -> UsageSeries:
        window = usage_window(start, end, bucket, utcnow())
        token = await self.repo.tokens.get(token_id)
        if token is None or not caller.sees(token.scopes):
            raise NotFound(f"there is no token {token_id!r} that you can see")
        return await self.repo.usage.series(token_id, window)

    async def summary(
        self,
        caller: Caller,
        start: datetime | None,
        end: datetime | None,
        sort: UsageSort,
        page: slice,
        daily: bool,
        ids: frozenset[str] | None = None,
    ) -> tuple[UsageWindow, UsagePage]:
        """Totals over the window (whole UTC days) of every token the caller sees, unused ones
        too, sorted (ties by id) and paged; ``daily`` adds each listed token's counts per day.
        ``ids`` keeps only those tokens (of those the caller sees)."""
        window = usage_window(start, end, "day", utcnow())
        scopes = None if caller.admin else tuple(sorted(caller.scopes))
        visible = await self.repo.usage.visible(scopes, ids)
        totals = await self.repo.usage.totals(window, {token_id for token_id, _, _ in visible})
        items = [
            TokenUsage(token_id, name, totals.get(token_id, ZERO), last_used_at)
            for token_id, name, last_used_at in visible
        ]
        items.sort(key=lambda item: item.token_id)
        by = (lambda i: i.counts.uses) if sort.endswith("uses") else (lambda i: i.counts.refused)
        items.sort(key=by, reverse=sort.startswith("-"))  # stable: ties stay by id
        shown = items[page]
        if daily and shown:
            series = await self.repo.usage.daily(window, [item.token_id for item in shown])
            shown = [_with_daily(item, series[item.token_id]) for item in shown]
        return window, UsagePage(shown, len(items))


def _with_daily(item: TokenUsage, daily: list[UsageCounts]) -> TokenUsage:
    return TokenUsage(item.token_id, item.name, item.counts, item.last_used_at, daily)
