"""Verify and get-by-id: the service against a bare app doing the same indexed lookup."""

from __future__ import annotations

from typing import Any

import aiohttp

from . import dataset
from .load import Request, alternate, compared
from .stats import Ratio

TARGET_THROUGHPUT = 2.0
TARGET_LATENCY = 1.0
TARGET_LATENCIES = (50, 99)


def _check(response: aiohttp.ClientResponse) -> None:
    if response.status != 200:
        raise RuntimeError(f"answered {response.status}")


def _get(session: aiohttp.ClientSession, url: str, ids: list[str],
         headers: dict[str, str]) -> Request:
    async def request(n: int) -> None:
        async with session.get(f"{url}/{ids[n % len(ids)]}", headers=headers) as response:
            await response.read()
            _check(response)

    return request


def _verify(session: aiohttp.ClientSession, url: str, guids: list[str],
            headers: dict[str, str]) -> Request:
    async def request(n: int) -> None:
        body = {"guid": guids[n % len(guids)]}
        async with session.post(url, json=body, headers=headers) as response:
            await response.read()
            _check(response)

    return request



async def measure(service_url: str, floor_url: str, data: dataset.Dataset, concurrency: int,
                  seconds: float, rounds: int) -> tuple[list[Ratio], dict[str, Any]]:
    auth = {"Authorization": f"Bearer {dataset.CALLER_KEY}"}
    connector = aiohttp.TCPConnector(limit=2 * concurrency)
    ratios: list[Ratio] = []
    raw: dict[str, Any] = {}
    async with aiohttp.ClientSession(connector=connector) as session:
        cases = {
            "get-by-id": {
                "service": _get(session, f"{service_url}/api/v1/tokens", data.ids, auth),
                "floor": _get(session, f"{floor_url}/floor/tokens", data.ids, {}),
                "floor-auth": _get(session, f"{floor_url}/floor-auth/tokens", data.ids, auth),
            },
            "verify": {
                "service": _verify(session, f"{service_url}/api/v1/tokens/verify",
                                   data.guids, auth),
                "floor": _verify(session, f"{floor_url}/floor/verify", data.guids, {}),
                "floor-auth": _verify(session, f"{floor_url}/floor-auth/verify",
                                      data.guids, auth),
            },
        }
        for name, contenders in cases.items():
            # The warm-up also records last_used_at on every token, as a steady verifier would
            # have done in the last minute: measured verifies then read only.
            runs = await alternate(contenders, concurrency, seconds, rounds,
                                   warmup=max(1.0, seconds / 2))
            # From memory, faster than any design that reads the database per request.
            ratios += compared(f"{name} (c={concurrency})", runs["service"], runs["floor"],
                               TARGET_LATENCIES, TARGET_THROUGHPUT, TARGET_LATENCY)
            ratios += compared(f"{name} vs floor with key lookup (c={concurrency})",
                               runs["service"], runs["floor-auth"], TARGET_LATENCIES,
                               TARGET_THROUGHPUT, TARGET_LATENCY)
            raw[name] = {k: r.summary() for k, r in runs.items()}
    return ratios, raw

