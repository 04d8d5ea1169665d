"""TokensClient's usage calls against the real server: a token's series and the summary, typed,
and as pandas data frames. Counts are flushed in-process, never waited for."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from aiohttp.test_utils import TestClient

from tokens_server.http.state import REPOSITORY
from tokens_widget import ApiError, TokensClient, UsageSeries, UsageSummary


async def _flush(client: TestClient[Any, Any]) -> None:
    await client.app[REPOSITORY].usage_counts.flush()


async def test_usage_of_a_token_is_typed_and_makes_a_data_frame(
    admin: TokensClient, client: TestClient[Any, Any]
) -> None:
    token = await admin.create_token("Nightly", ["analytics"])
    assert token.guid is not None
    for _ in range(3):
        assert (await admin.verify_token(token.guid)).valid
    assert not (await admin.verify_token(token.guid, ["finance"])).valid
    await _flush(client)

    series = await admin.usage(token.id)
    assert isinstance(series, UsageSeries)
    assert series.bucket == "day" and len(series.buckets) == 15
    assert (series.totals.uses, series.totals.refused) == (3, 1)
    assert series.totals.refusals.missing_scopes == 1
    assert series.from_.tzinfo is not None and series.from_ == series.buckets[0].start

    frame = series.to_pandas()
    assert list(frame.columns) == [
        "uses", "refused", "revoked", "expired", "not_yet_active", "missing_scopes",
        "superseded_after_grace",
    ]  # fmt: skip
    assert len(frame) == 15 and str(frame.index.tz) == "UTC" and frame.index.name == "start"
    assert frame["uses"].sum() == 3 and frame["missing_scopes"].iloc[-1] == 1

    hourly = await admin.usage(
        token.id,
        from_=datetime(2026, 11, 20, 10, 30, tzinfo=UTC),
        to=datetime(2026, 11, 20, 12, tzinfo=UTC),
        bucket="hour",
    )
    assert [b.start.hour for b in hourly.buckets] == [10, 11]
    assert hourly.totals.uses == 0


async def test_the_summary_is_typed_sorted_and_makes_a_data_frame(
    admin: TokensClient, client: TestClient[Any, Any]
) -> None:
    busy = await admin.create_token("Busy", ["analytics"])
    idle = await admin.create_token("Idle", ["ml"])
    assert busy.guid is not None
    for _ in range(2):
        await admin.verify_token(busy.guid)
    await _flush(client)

    summary = await admin.usage_summary(daily=True)
    assert isinstance(summary, UsageSummary)
    assert [item.name for item in summary.items] == ["Busy", "Idle"]
    assert summary.total == 2 and summary.items[0].last_used_at is not None
    daily = summary.items[0].daily
    assert daily is not None and len(daily) == 15 and daily[-1].uses == 2
    least = await admin.usage_summary(sort="uses", limit=1)
    assert [item.token_id for item in least.items] == [idle.id] and least.items[0].daily is None
    only = await admin.usage_summary(ids=[idle.id], daily=True)
    assert [item.token_id for item in only.items] == [idle.id] and only.total == 1

    frame = summary.to_pandas()
    assert frame.index.name == "token_id" and list(frame.index) == [busy.id, idle.id]
    assert frame.loc[busy.id, "uses"] == 2 and frame.loc[idle.id, "uses"] == 0
    assert pd.isna(frame.loc[idle.id, "last_used_at"])
    assert str(frame["last_used_at"].dt.tz) == "UTC"


async def test_bad_windows_and_hidden_tokens_raise_api_errors(
    admin: TokensClient, server_url: str
) -> None:
    token = await admin.create_token("Ledger", ["finance"])
    now = datetime.now(UTC)
    with pytest.raises(ApiError) as refused:
        await admin.usage(token.id, from_=now, to=now - timedelta(days=1))
    assert refused.value.status == 422
    analyst = await admin.create_user("analyst", ["analytics"])
    async with TokensClient(server_url, analyst.api_key) as client:
        with pytest.raises(ApiError) as hidden:
            await client.usage(token.id)
        assert hidden.value.status == 404
        assert (await client.usage_summary()).total == 0


def test_to_pandas_without_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    series = UsageSeries.model_validate(
        {
            "token_id": "0" * 24,
            "bucket": "day",
            "from": "2026-11-20T00:00:00Z",
            "to": "2026-11-20T00:00:00Z",
            "buckets": [],
            "totals": {"uses": 0, "refused": 0, "refusals": dict.fromkeys(
                ("revoked", "expired", "not_yet_active", "missing_scopes",
                 "superseded_after_grace"), 0)},
        }
    )  # fmt: skip
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"tokens\[pandas\]"):
        series.to_pandas()
