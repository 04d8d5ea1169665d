"""``TokensClient``'s calls on usage: one token's series, and the totals of every token the
caller sees."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from tokens_server.domain.usage import Bucket, UsageSort

from ..limits import DEFAULT_PAGE_SIZE
from ..usage_models import UsageSeries, UsageSummary
from .calls import Calls, optional_time, path_segment


def _window(from_: datetime | None, to: datetime | None) -> list[tuple[str, str]]:
    bounds = (("from", optional_time(from_)), ("to", optional_time(to)))
    return [(name, value) for name, value in bounds if value is not None]


class UsageCalls(Calls):
    """Usage operations of ``TokensClient``."""

    async def usage(
        self,
        token_id: str,
        *,
        from_: datetime | None = None,
        to: datetime | None = None,
        bucket: Bucket = "day",
    ) -> UsageSeries:
        """The token's uses and refusals per UTC ``bucket`` from ``from_`` (default: 14 days
        before ``to``) to ``to`` (default: now), zero-filled. A 404 when the caller cannot
        see the token."""
        params = [*_window(from_, to), ("bucket", bucket)]
        path = f"/tokens/{path_segment(token_id)}/usage"
        return UsageSeries.model_validate(await self._call("GET", path, params=params))

    async def usage_summary(
        self,
        *,
        from_: datetime | None = None,
        to: datetime | None = None,
        sort: UsageSort = "-uses",
        limit: int = DEFAULT_PAGE_SIZE,
        offset: int = 0,
        daily: bool = False,
        ids: Iterable[str] | None = None,
    ) -> UsageSummary:
        """One page of the totals of every token the caller sees over the window (unused ones
        too), sorted by uses or refusals (ties by id). ``daily``: each token's counts per day
        too, as a sparkline draws them. ``ids``: only these tokens (at most a page's worth;
        those the caller does not see are left out)."""
        params = [*_window(from_, to), ("sort", sort), ("limit", str(limit))]
        params.append(("offset", str(offset)))
        params.extend(("ids", token_id) for token_id in ids or ())
        if daily:
            params.append(("series", "day"))
        return UsageSummary.model_validate(await self._call("GET", "/usage", params=params))
