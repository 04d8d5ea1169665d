"""/api/v1/tokens/{token_id}/usage and /api/v1/usage"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tokens_server.http.operations import Call
from tokens_server.http.schemas import (
    TokenUsageOut,
    UsageQuery,
    UsageSeriesOut,
    UsageSummaryOut,
    UsageSummaryQuery,
)
from tokens_server.http.state import REPOSITORY
from tokens_server.services.usage import UsageService


def service(call: Call[Any]) -> UsageService:
    return UsageService(call.request.app[REPOSITORY])


async def token_usage(call: Call[UsageQuery]) -> web.Response:
    params = call.input
    series = await service(call).series(
        call.caller, call.path["token_id"], params.from_, params.to, params.bucket
    )
    return call.reply(UsageSeriesOut.of(series))


async def usage_summary(call: Call[UsageSummaryQuery]) -> web.Response:
    params = call.input
    page = slice(params.offset, params.offset + params.limit)
    window, found = await service(call).summary(
        call.caller,
        params.from_,
        params.to,
        params.sort,
        page,
        params.series == "day",
        frozenset(params.ids) or None,
    )
    days = window.starts() if params.series == "day" else []
    body = UsageSummaryOut(
        from_=window.start,
        to=window.end,
        items=[TokenUsageOut.of_usage(item, days) for item in found.items],
        total=found.total,
        limit=params.limit,
        offset=params.offset,
    )
    return call.reply(body)
