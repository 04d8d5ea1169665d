"""Bulk actions: one request revoking 500 tokens, then one deleting them, against the 2 s target.

Before each sample 500 active tokens in the caller's scope are bulk-inserted in the service's
own document format (as ``dataset`` loads them); the caller, who holds that scope, then revokes
them all in one ``bulk-revoke`` request and deletes them all in one ``bulk-delete`` request.
Each request is timed from sending to its whole answer, and every outcome must be the change.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from datetime import timedelta
from typing import Any

import aiohttp
from pymongo import AsyncMongoClient

from tokens_server.domain.limits import BULK_IDS_MAX
from tokens_server.domain.models import utcnow
from tokens_server.storage import Repository

from . import dataset
from .stats import Ratio, percentile

TARGET_MS = 2000.0
Document = dict[str, Any]


async def _fresh(client: AsyncMongoClient[Document], db_name: str, rng: random.Random) -> list[str]:
    repo = Repository(client, db_name, dataset.keyring())
    now = utcnow()
    docs = []
    for _ in range(BULK_IDS_MAX):
        fields, audit = dataset._token_fields(rng, dataset.CALLER_SCOPE, now)
        # Active: made a day ago, ending in 90 days, not revoked.
        fields |= {"valid_from": now - timedelta(days=1), "valid_to": now + timedelta(days=90)}
        audit |= {"revoked_at": None, "revoked_by": None}
        docs.append(dataset._document(repo, fields, audit, now))
    await client[db_name]["tokens"].insert_many(docs)
    return [str(doc["_id"]) for doc in docs]


async def _total(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(f"{url}/api/v1/tokens", params={"limit": "1"}) as answer:
        total: int = (await answer.json())["total"]
        return total


async def _taken_in(session: aiohttp.ClientSession, url: str, total: int) -> None:
    """Wait until the service lists the inserted tokens: as a user's revoke comes long after
    the tokens were made, not while every service is still reading them in."""
    async with asyncio.timeout(120):
        while await _total(session, url) < total:  # noqa: ASYNC110
            await asyncio.sleep(0.25)


async def _timed(session: aiohttp.ClientSession, url: str, ids: list[str],
                 outcome: str) -> float | None:
    """Milliseconds to the whole answer; None when the database failed the request (503), as a
    busy machine can make it: the ids are then done or untouched, and sent again."""
    started = time.perf_counter()
    async with session.post(url, json={"ids": ids}) as answer:
        body = await answer.json()
        if answer.status == 503:
            print(f"{url} answered 503: {body.get('detail')}", file=sys.stderr)
            async with session.post(url, json={"ids": ids}) as again:
                if again.status != 200:
                    raise RuntimeError(f"{url} answered {answer.status} ({body}), then "
                                       f"{again.status} ({await again.json()})")
            return None
        if answer.status != 200:
            raise RuntimeError(f"{url} answered {answer.status}: {body}")
    took = 1000 * (time.perf_counter() - started)
    if body["counts"][outcome] != len(ids):
        raise RuntimeError(f"{url}: {body['counts']}, not {len(ids)} {outcome}")
    return took


async def measure(client: AsyncMongoClient[Document], url: str, db_name: str,
                  samples: int) -> tuple[list[Ratio], dict[str, Any]]:
    rng = random.Random(3)
    taken: dict[str, list[float]] = {"revoke": [], "delete": []}
    failed = {"revoke": 0, "delete": 0}
    headers = {"Authorization": f"Bearer {dataset.CALLER_KEY}"}
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
        for _ in range(samples):
            before = await _total(session, url)
            ids = await _fresh(client, db_name, rng)
            await _taken_in(session, url, before + len(ids))
            for action, outcome in (("revoke", "revoked"), ("delete", "deleted")):
                took = await _timed(session, f"{url}/api/v1/tokens/bulk-{action}", ids, outcome)
                if took is None:
                    failed[action] += 1
                else:
                    taken[action].append(took)
    ratios = []
    raw: dict[str, Any] = {"ids": BULK_IDS_MAX, "samples": samples}
    for action, times in taken.items():
        p50 = percentile(times, 50) if times else float("inf")
        note = f"{len(times)} requests" + (f", {min(times):.0f}-{max(times):.0f} ms" if times
                                           else "")
        if failed[action]:
            note += f"; {failed[action]} answered 503"
        ratios.append(Ratio(f"bulk {action} of {BULK_IDS_MAX} in one request: p50", p50,
                            TARGET_MS, "ms", 1.0, "<=", note))
        raw[action] = {"p50_ms": p50, "times_ms": times, "503": failed[action]}
    return ratios, raw
