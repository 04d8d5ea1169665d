"""The usage chart's bars and local labels across changes of the clocks (``usage_chart.py``), in
Europe/Ljubljana as the browser tests run: summer time ends on 25 October 2026 (03:00 CEST is
02:00 CET) and begins on 29 March 2026 (02:00 CET is 03:00 CEST)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tokens_server.domain.usage import REFUSALS
from tokens_widget.limits import USAGE_BUCKETS_MAX
from tokens_widget.usage_chart import chart, display_zone, plan
from tokens_widget.usage_models import UsageBucket

ZONE = display_zone("Europe/Ljubljana")
HOUR = timedelta(hours=1)


def _hours(start: datetime, end: datetime, uses: int = 1) -> list[UsageBucket]:
    """Every UTC hour from start to end counted with ``uses`` uses and one refusal."""
    buckets = []
    while start < end:
        refusals = dict.fromkeys(REFUSALS, 0) | {"revoked": 1}
        buckets.append(
            UsageBucket.model_validate(
                {"start": start, "uses": uses, "refused": 1, "refusals": refusals}
            )
        )
        start += HOUR
    return buckets


def _day_chart(now: datetime, key: str = "14d") -> dict[str, object]:
    the_plan = plan(key, ZONE, now)  # type: ignore[arg-type]
    return chart(the_plan, _hours(the_plan.start - 5 * HOUR, the_plan.end + 5 * HOUR))


def test_24_hours_when_summer_time_ends_show_the_repeated_hour_twice() -> None:
    the_plan = plan("24h", ZONE, datetime(2026, 10, 25, 11, 20, tzinfo=UTC))
    drawn = chart(the_plan, _hours(the_plan.start, the_plan.end))
    bars = drawn["bars"]
    assert len(bars) == 24
    labels = [bar["label"] for bar in bars]
    # 12:00 UTC on the 24th is 14:00 CEST; the last hour, 11:00 UTC, is 12:00 CET.
    assert labels[0] == "14:00" and labels[-1] == "12:00"
    assert labels[10:15] == ["00:00", "01:00", "02:00 CEST", "02:00 CET", "03:00"]
    assert bars[12]["title"] == "Sun 25 Oct 2026 02:00 CEST"
    assert bars[13]["title"] == "Sun 25 Oct 2026 02:00 CET"
    assert bars[12]["start"] == "2026-10-25T00:00:00+00:00"
    assert drawn["totals"] == {
        "uses": 24,
        "refused": 24,
        "refusals": dict.fromkeys(REFUSALS, 0) | {"revoked": 24},
    }


def test_24_hours_when_summer_time_begins_skip_the_missing_hour() -> None:
    the_plan = plan("24h", ZONE, datetime(2026, 3, 29, 11, 0, tzinfo=UTC))
    bars = chart(the_plan, [])["bars"]
    assert len(bars) == 24  # 11:00 UTC on the hour: the hour starting now is under way
    labels = [bar["label"] for bar in bars]
    assert labels[0] == "13:00" and labels[-1] == "13:00"  # CET then CEST
    assert labels[10:13] == ["23:00", "00:00", "01:00"] and labels[13] == "03:00"
    assert "02:00" not in labels and len(set(labels)) == 23
    # Zero-filled: every hour a bar, nothing counted.
    assert all((bar["uses"], bar["refused"]) == (0, 0) for bar in bars)


@pytest.mark.parametrize(
    ("now", "changed", "hours"),
    [
        (datetime(2026, 10, 30, 10, 30, tzinfo=UTC), date(2026, 10, 25), 25),
        (datetime(2026, 4, 2, 10, 30, tzinfo=UTC), date(2026, 3, 29), 23),
    ],
)
def test_local_days_across_a_change_are_one_bar_each_without_gap_or_twice(
    now: datetime, changed: date, hours: int
) -> None:
    drawn = _day_chart(now)
    bars = drawn["bars"]
    assert isinstance(bars, list) and len(bars) == 14
    starts = [datetime.fromisoformat(bar["start"]).astimezone(ZONE) for bar in bars]
    days = [start.date() for start in starts]
    assert days == [now.date() - timedelta(days=13 - n) for n in range(14)]
    assert all(start.hour == 0 for start in starts)  # each bar starts at local midnight
    by_day = {day: bar["uses"] for day, bar in zip(days, bars, strict=True)}
    assert by_day[changed] == hours
    # Today so far: local midnight (22:00 or 23:00 UTC) to the end of 10:00 UTC.
    assert by_day[now.date()] == 11 + (now.astimezone(ZONE).utcoffset() // HOUR)
    others = [uses for day, uses in by_day.items() if day not in (changed, now.date())]
    assert others == [24] * 12
    assert bars[0]["label"] == f"{days[0]:%a %d %b}"


def test_90_days_by_the_hour_are_asked_in_windows_within_the_bucket_limit() -> None:
    the_plan = plan("90d", ZONE, datetime(2026, 11, 10, 8, 5, tzinfo=UTC))
    windows = the_plan.windows()
    assert len(windows) == 2
    assert windows[0][0] == the_plan.start and windows[-1][1] == the_plan.end
    assert windows[0][1] == windows[1][0]
    assert all((b - a) / HOUR <= USAGE_BUCKETS_MAX for a, b in windows)
    drawn = chart(the_plan, _hours(the_plan.start, the_plan.end))
    bars = drawn["bars"]
    assert isinstance(bars, list) and len(bars) == 90
    assert sum(bar["uses"] for bar in bars) == (the_plan.end - the_plan.start) // HOUR


def test_an_unknown_time_zone_is_utc() -> None:
    for name in (None, "", "Mars/Olympus", "../etc/passwd", 7):
        assert display_zone(name).key == "UTC"
    the_plan = plan("24h", display_zone("nowhere"), datetime(2026, 10, 25, 11, 20, tzinfo=UTC))
    assert [bar["label"] for bar in chart(the_plan, [])["bars"]][:2] == ["12:00", "13:00"]
