"""Create: the service's POST /tokens against raw ``insert_one`` with the same write concern.

Both write into the same collection with the same indexes; the raw side inserts documents built
by the repository's own encoder, journaled (``j=True``) as the service writes them.
"""

from __future__ import annotations

import random
from typing import Any

import aiohttp
from pymongo import AsyncMongoClient
from pymongo.write_concern import WriteConcern

from tokens_server.domain.models import utcnow
from tokens_server.storage import Repository

from . import dataset
from .load import Request, alternate, compared
from .stats import Ratio

Document = dict[str, Any]


def _service(session: aiohttp.ClientSession, url: str) -> Request:
    async def request(n: int) -> None:
        body = {"name": f"Created {n}", "scopes": [dataset.CALLER_SCOPE]}
        async with session.post(f"{url}/api/v1/tokens", json=body) as response:
            await response.read()
            if response.status != 201:
                raise RuntimeError(f"create answered {response.status}")

    return request


def _raw(client: AsyncMongoClient[Document], db_name: str) -> Request:
    repo = Repository(client, db_name, dataset.keyring())
    tokens = client[db_name].get_collection("tokens", write_concern=WriteConcern(j=True))
    rng = random.Random()  # unseeded: a second run on the same database needs new GUIDs

    async def request(n: int) -> None:
        fields, audit = dataset._token_fields(rng, dataset.CALLER_SCOPE, utcnow())
        await tokens.insert_one(dataset._document(repo, fields, audit, utcnow()))

    return request


async def measure(client: AsyncMongoClient[Document], url: str, db_name: str,
                  concurrency: int, seconds: float, rounds: int
                  ) -> tuple[list[Ratio], dict[str, Any]]:
    headers = {"Authorization": f"Bearer {dataset.CALLER_KEY}"}
    connector = aiohttp.TCPConnector(limit=2 * concurrency)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        runs = await alternate(
            {"service": _service(session, url), "raw insert_one": _raw(client, db_name)},
            concurrency, seconds, rounds, warmup=min(1.0, seconds / 2),
        )
    # The target is issue 20's: a create writes the token, its quota slot and its event in one
    # transaction shared with the creates beside it, against the floor's one insert.
    ratios = compared(f"create (c={concurrency}, j=True)", runs["service"], runs["raw insert_one"],
                      throughput=0.6)
    return ratios, {name: run.summary() for name, run in runs.items()}
