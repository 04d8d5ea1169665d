"""The History dialog's usage chart, in the viewer's time zone: which UTC hours to ask for, and
the bars they make, each labelled in local time.

The server counts per UTC hour. The last 24 hours are 24 bars, one an hour, labelled by local
wall time: across a change of the clocks a local hour is skipped (02:00 in spring) or shown twice
(02:00 CEST, then 02:00 CET in autumn), and there are still 24 bars. The 14 and 90 day ranges
are local days: each hour is added to the local day its start falls in, so a day of 23 or 25
hours is one bar, and every day of the range has a bar, zero when nothing was counted (no gap,
no day twice). In a zone whose offset is not whole hours, a local day starts with the first UTC
hour that starts in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tokens_server.domain.usage import REFUSALS, bucket_end

from .limits import USAGE_BUCKETS_MAX
from .usage_models import UsageBucket

Range = Literal["24h", "14d", "90d"]
RANGE_KEYS: Final[tuple[Range, ...]] = get_args(Range)
#: Each range: how many bars, and of what.
RANGES: Final[dict[Range, tuple[int, Literal["hour", "day"]]]] = {
    "24h": (24, "hour"),
    "14d": (14, "day"),
    "90d": (90, "day"),
}
HOUR: Final = timedelta(hours=1)


def display_zone(name: object) -> ZoneInfo:
    """The time zone the browser names (an IANA name), or UTC when it names none we know."""
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo("UTC")


@dataclass(frozen=True)
class Plan:
    """The UTC hours a range needs, ``start`` to ``end`` (excluded), and its local days."""

    range: Range
    zone: ZoneInfo
    start: datetime
    end: datetime
    days: tuple[date, ...] = ()

    def windows(self) -> list[tuple[datetime, datetime]]:
        """The hours to ask for, in windows of at most the server's bucket limit each."""
        step = USAGE_BUCKETS_MAX * HOUR
        starts = range(0, -(-(self.end - self.start) // step))
        return [(self.start + n * step, min(self.end, self.start + (n + 1) * step)) for n in starts]


def plan(key: Range, zone: ZoneInfo, now: datetime) -> Plan:
    """What range ``key`` shows at ``now``: the last 24 whole hours up to the one under way, or
    the last 14 or 90 local days up to today."""
    count, unit = RANGES[key]
    end = bucket_end(now, "hour")
    if now == end:  # on the hour: the hour that starts now is under way
        end += HOUR
    if unit == "hour":
        return Plan(key, zone, end - count * HOUR, end)
    today = now.astimezone(zone).date()
    days = tuple(today - timedelta(days=n) for n in reversed(range(count)))
    first = datetime.combine(days[0], time(), zone).astimezone(UTC)
    return Plan(key, zone, bucket_end(first, "hour"), end, days)


def _local(start: datetime, zone: ZoneInfo) -> tuple[str, str]:
    """An hour's label and title in ``zone``: "02:00", and "02:00 CEST" when 02:00 comes twice."""
    local = start.astimezone(zone)
    label = local.strftime("%H:%M")
    twice = local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()
    if twice:
        label = f"{label} {local.tzname()}"
    return label, f"{local:%a %d %b %Y %H:%M} {local.tzname()}"


def _bar(start: datetime, label: str, title: str, uses: int, refused: int) -> dict[str, Any]:
    return {
        "start": start.astimezone(UTC).isoformat(),
        "label": label,
        "title": title,
        "uses": uses,
        "refused": refused,
    }


def hour_bars(the_plan: Plan, buckets: Iterable[UsageBucket]) -> list[dict[str, Any]]:
    """One bar per UTC hour of the plan, zero-filled, labelled in local time."""
    counted = {bucket.start: bucket for bucket in buckets}
    bars = []
    start = the_plan.start
    while start < the_plan.end:
        found = counted.get(start)
        uses, refused = (found.uses, found.refused) if found else (0, 0)
        bars.append(_bar(start, *_local(start, the_plan.zone), uses, refused))
        start += HOUR
    return bars


def day_bars(the_plan: Plan, buckets: Iterable[UsageBucket]) -> list[dict[str, Any]]:
    """One bar per local day of the plan, each the sum of the hours that start in it."""
    sums = {day: [0, 0] for day in the_plan.days}
    for bucket in buckets:
        day = bucket.start.astimezone(the_plan.zone).date()
        if day in sums and the_plan.start <= bucket.start < the_plan.end:
            sums[day][0] += bucket.uses
            sums[day][1] += bucket.refused
    return [
        _bar(
            datetime.combine(day, time(), the_plan.zone),
            f"{day:%a %d %b}",
            f"{day:%A %d %B %Y}",
            *sums[day],
        )
        for day in the_plan.days
    ]


def chart(the_plan: Plan, buckets: Sequence[UsageBucket]) -> dict[str, Any]:
    """The chart of a plan as the browser draws it: bars, and the totals of the range."""
    inside = [b for b in buckets if the_plan.start <= b.start < the_plan.end]
    bars = hour_bars(the_plan, inside) if not the_plan.days else day_bars(the_plan, inside)
    refusals = {reason: sum(getattr(b.refusals, reason) for b in inside) for reason in REFUSALS}
    return {
        "range": the_plan.range,
        "bucket": RANGES[the_plan.range][1],
        "time_zone": the_plan.zone.key,
        "from": the_plan.start.isoformat(),
        "to": the_plan.end.isoformat(),
        "bars": bars,
        "totals": {
            "uses": sum(b.uses for b in inside),
            "refused": sum(b.refused for b in inside),
            "refusals": refusals,
        },
    }
