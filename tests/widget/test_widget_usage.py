"""The widget's usage against the real server: the page's column arrives with the page in one
request, a shown widget reads it again once counts are written, and the usage action answers a
token's chart for each range, zero-filled and labelled in the browser's time zone. Counts are
added and flushed in-process (``UsageCounter``), never waited for."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.support import eventually
from tests.widget.front_end import act, front_end_of
from tokens_server.http.state import REPOSITORY
from tokens_widget import TokensClient, TokensWidget
from tokens_widget.page_usage import COLUMN_DAYS

TZ = "Europe/Ljubljana"


@pytest.fixture
def count(client: TestClient[Any, Any]) -> Callable[..., None]:
    """Count verifications of a token at a moment, as verify does, without waiting."""
    counter = client.app[REPOSITORY].usage_counts

    def add(token_id: str, outcome: str, at: datetime, times: int = 1) -> None:
        for _ in range(times):
            counter.count(token_id, outcome, at)

    return add


async def _flush(client: TestClient[Any, Any], admin: TokensClient, **expected: int) -> None:
    """Write the counts, and wait until each token's totals (written last) are ``expected``:
    the server's own flush, every few seconds, may be writing some of them at this moment."""
    await client.app[REPOSITORY].usage_counts.flush()
    start = datetime.now(UTC) - timedelta(days=399)

    async def written() -> bool:
        found = await admin.usage_summary(from_=start, ids=list(expected))
        return {item.token_id: item.uses + item.refused for item in found.items} == expected

    await eventually(written, "the counts are written")


async def test_the_page_usage_arrives_with_the_page_in_one_request(
    widget: TokensWidget,
    admin: TokensClient,
    client: TestClient[Any, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    used = await admin.create_token("Used", ["analytics"])
    revoked = await admin.create_token("Revoked", ["finance"])
    idle = await admin.create_token("Idle", ["ml"])
    assert used.guid is not None and revoked.guid is not None
    for _ in range(3):
        assert (await admin.verify_token(used.guid)).valid
    await admin.revoke_token(revoked.id)
    for _ in range(2):
        assert not (await admin.verify_token(revoked.guid)).valid
    await _flush(client, admin, **{used.id: 3, revoked.id: 2})
    assert widget.client is not None
    calls: list[dict[str, Any]] = []
    summary = widget.client.usage_summary

    async def spy(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return await summary(**kwargs)

    monkeypatch.setattr(widget.client, "usage_summary", spy)
    widget.refresh()
    await widget.settled()

    assert len(calls) == 1, calls  # one request for the page, not one a row
    assert sorted(calls[0]["ids"]) == sorted([used.id, revoked.id, idle.id])
    usage = widget._usage
    assert len(usage["days"]) == COLUMN_DAYS
    assert usage["days"][-1] == datetime.now(UTC).date().isoformat()
    tokens = usage["tokens"]
    assert (tokens[used.id]["uses"], tokens[used.id]["refused"]) == (3, 0)
    assert tokens[used.id]["daily"][-1] == [3, 0] and len(tokens[used.id]["daily"]) == 14
    assert tokens[used.id]["daily"][:-1] == [[0, 0]] * 13
    assert (tokens[revoked.id]["uses"], tokens[revoked.id]["refused"]) == (0, 2)
    assert tokens[revoked.id]["refusals"] == {"revoked": 2}
    assert tokens[idle.id] == {"uses": 0, "refused": 0}  # small: it comes with every page
    # The rows and their usage reach the browser in one update.
    updates = front_end_of(widget).state_updates()
    assert any({"_rows", "_usage"} <= update.keys() for update in updates)

    # The next page asks again, for its own tokens only.
    widget.page_size = 10
    widget.name_filter = "Used"
    await widget.settled()
    assert calls[-1]["ids"] == [used.id] and list(widget._usage["tokens"]) == [used.id]


async def test_a_shown_widget_reads_usage_again_once_counts_are_written(
    widget: TokensWidget, admin: TokensClient, client: TestClient[Any, Any]
) -> None:
    token = await admin.create_token("Nightly", ["analytics"])
    widget.refresh()
    await widget.settled()
    assert widget._usage["tokens"][token.id]["uses"] == 0
    widget.usage.refresh_s = 0.05
    await act(widget, "hello")  # a view is shown: its usage is kept current
    assert token.guid is not None
    await admin.verify_token(token.guid)
    await admin.verify_token(token.guid, ["ml"])  # refused: missing scopes
    # Invisible to the change feed: no history event.
    await client.app[REPOSITORY].usage_counts.flush()
    # (The server's own flush may be writing these counts at this moment too: wait for all.)
    await eventually(
        lambda: (
            (shown := widget._usage["tokens"][token.id]).get("daily", [None])[-1] == [1, 1]
            and shown.get("refusals") == {"missing_scopes": 1}
            and shown["uses"] == 1
        ),
        "the counts are read",
    )
    sent = len(front_end_of(widget).state_updates())
    await eventually(lambda: widget.usage.running, "the timer runs")
    await widget.usage.refresh()  # nothing changed: nothing is sent
    assert len(front_end_of(widget).state_updates()) == sent
    await widget.aclose()
    assert not widget.usage.running


@pytest.mark.parametrize(("key", "bars"), [("24h", 24), ("14d", 14), ("90d", 90)])
async def test_the_usage_action_answers_each_range_zero_filled(
    widget: TokensWidget,
    admin: TokensClient,
    client: TestClient[Any, Any],
    count: Callable[..., None],
    key: str,
    bars: int,
) -> None:
    token = await admin.create_token("Nightly", ["analytics"])
    now = datetime.now(UTC)
    count(token.id, "uses", now, times=4)
    count(token.id, "expired", now)
    count(token.id, "uses", now - timedelta(days=30))  # in 90 days only
    count(token.id, "uses", now - timedelta(days=120))  # in none
    await _flush(client, admin, **{token.id: 7})
    answer = await act(widget, "usage", token_id=token.id, range=key, tz=TZ)
    assert answer["ok"], answer
    chart = answer["result"]
    assert (chart["range"], chart["time_zone"]) == (key, TZ)
    assert len(chart["bars"]) == bars
    uses = 5 if key == "90d" else 4
    assert chart["totals"]["uses"] == uses and chart["totals"]["refused"] == 1
    assert chart["totals"]["refusals"]["expired"] == 1
    assert chart["bars"][-1]["uses"] == 4 and chart["bars"][-1]["refused"] == 1
    assert (chart["bars"][0]["uses"], chart["bars"][0]["refused"]) == (0, 0)
    assert sum(bar["uses"] for bar in chart["bars"]) == uses


def _last_end_of_summer_time(now: datetime) -> datetime:
    """01:00 UTC on the last Sunday of October (03:00 CEST, then 02:00 CET) before ``now``:
    within the year the server keeps counts."""
    for year in (now.year, now.year - 1):
        day = date(year, 10, 31)
        day -= timedelta(days=(day.weekday() + 1) % 7)
        change = datetime.combine(day, time(1), UTC)
        if change + timedelta(days=2) < now:
            return change
    raise AssertionError("unreachable")


async def test_the_chart_labels_hours_and_days_across_the_end_of_summer_time(
    widget: TokensWidget, admin: TokensClient, client: TestClient[Any, Any], count: Any
) -> None:
    token = await admin.create_token("Nightly", ["analytics"])
    change = _last_end_of_summer_time(datetime.now(UTC))
    # 02:30 CEST and 02:30 CET that Sunday, then 23:30 CET.
    count(token.id, "uses", change - timedelta(minutes=30))
    count(token.id, "revoked", change + timedelta(minutes=30), times=2)
    count(token.id, "uses", change + timedelta(hours=21, minutes=30))
    await _flush(client, admin, **{token.id: 4})
    request = {"token_id": token.id, "tz": TZ}

    hours = await widget.usage.chart(request | {"range": "24h"}, now=change + timedelta(hours=10))
    assert len(hours["bars"]) == 24
    marked = [(b["label"], b["uses"], b["refused"]) for b in hours["bars"] if b["label"] < "04"]
    assert marked == [
        ("00:00", 0, 0),
        ("01:00", 0, 0),
        ("02:00 CEST", 1, 0),
        ("02:00 CET", 0, 2),
        ("03:00", 0, 0),
    ]
    days = await widget.usage.chart(request | {"range": "90d"}, now=change + timedelta(days=16))
    by_day = {bar["label"]: (bar["uses"], bar["refused"]) for bar in days["bars"]}
    assert len(days["bars"]) == len(by_day) == 90  # each local day once
    label = lambda moment: f"{moment:%a %d %b}"  # noqa: E731
    assert by_day[label(change)] == (2, 2)
    assert by_day[label(change - timedelta(days=1))] == (0, 0)
    assert by_day[label(change + timedelta(days=1))] == (0, 0)


async def test_a_usage_request_for_an_unknown_range_is_refused(
    widget: TokensWidget, admin: TokensClient
) -> None:
    token = await admin.create_token("Nightly", ["analytics"])
    answer = await act(widget, "usage", token_id=token.id, range="7y", tz=TZ)
    assert not answer["ok"] and "24h" in answer["error"]
