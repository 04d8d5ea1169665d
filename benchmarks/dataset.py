"""Benchmark data: users, scopes and tokens written in the service's own document format.

Tokens are bulk-inserted (``insert_many``), which is ~10x faster than creating them one by one,
but each document is built by the repository's own ``TokenStore`` code so it cannot drift from
what the service writes; ``check_format`` compares it with a token the service created.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient

from tokens_server.domain.models import utcnow
from tokens_server.secrets.crypto import hash_api_key
from tokens_server.secrets.keyring import Keyring, key_from_text
from tokens_server.storage import Repository

SECRET = "benchmark-secret-for-guid-encryption"
ADMIN_KEY = "benchmark-admin-key-0123456789abcdef"
CALLER_KEY = "benchmark-caller-key-0123456789abcdef"
CALLER_SCOPE = "team-a"
# The actor of the events the loader's scopes and users write.
LOADER = "(benchmark)"
OTHER_SCOPES = [f"team-{n:02d}" for n in range(20)]
ADJECTIVES = ["Nightly", "Hourly", "Daily", "Weekly", "Adhoc"]
NOUNS = ["ETL", "Export", "Billing", "Sync", "Backup", "Report", "Ingest", "Dashboard"]
BATCH = 1000

Document = dict[str, Any]


def keyring() -> Keyring:
    return Keyring(key_from_text(SECRET, "the benchmark's secret"))


@dataclass
class Dataset:
    """What the scenarios need to know about a loaded database."""

    db_name: str
    visible: int
    total: int
    ids: list[str]  # of tokens the caller sees
    guids: list[str]  # of active tokens the caller sees


def _token_fields(rng: random.Random, scope: str, now: datetime) -> tuple[Document, Document]:
    """Fields of a token as a caller would give them, and the audit fields the service sets."""
    name = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.randrange(100_000):05d}"
    roll = rng.random()
    # A mix of statuses: ~60 % active, the rest scheduled, expired or revoked.
    valid_from = now - timedelta(days=rng.uniform(1, 400))
    valid_to: datetime | None = None if rng.random() < 0.5 else now + timedelta(days=90)
    revoked_at = None
    if roll < 0.1:
        valid_from, valid_to = now + timedelta(days=rng.uniform(1, 30)), None
    elif roll < 0.3:
        valid_to = now - timedelta(days=rng.uniform(0.5, 30))
    elif roll < 0.4:
        valid_to = revoked_at = now - timedelta(days=rng.uniform(0.5, 30))
    fields = {
        "name": name,
        "description": "",
        "scopes": [scope],
        "guid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "valid_from": valid_from.replace(microsecond=0),
        "valid_to": None if valid_to is None else valid_to.replace(microsecond=0),
    }
    # Made over the last year and a half; half never used, the rest within the last 60 days.
    created_at = now - timedelta(days=rng.uniform(0, 500))
    last_used_at = None if rng.random() < 0.5 else now - timedelta(days=rng.uniform(0, 60))
    audit = {
        "revoked_at": revoked_at,
        "revoked_by": None if revoked_at is None else "bench",
        "created_at": created_at.replace(microsecond=0),
        "last_used_at": None if last_used_at is None else last_used_at.replace(microsecond=0),
    }
    return fields, audit


def _document(repo: Repository, fields: Document, audit: Document, now: datetime) -> Document:
    # The repository's private encoder: the same name key and sealed GUID the service stores.
    return repo.tokens._stored(fields) | {
        "created_at": now,
        "created_by": "bench",
        "updated_at": now,
        "updated_by": "bench",
        "revoked_at": None,
        "revoked_by": None,
        "last_used_at": None,
        "version": 1,
    } | audit


async def load(client: AsyncMongoClient[Document], db_name: str, visible: int, total: int,
               progress: Any = None) -> Dataset:
    """Create a database with ``visible`` tokens in the caller's scope and the rest in others.

    The caller's tokens are the same in every database (same seed) and spread evenly through
    the insertion order, so only the size of the collection differs between them.
    """
    now = utcnow()
    repo = Repository(client, db_name, keyring())
    await client.drop_database(db_name)
    await repo.prepare()
    for scope in [CALLER_SCOPE, *OTHER_SCOPES]:
        await repo.scopes.create(scope, "", now, LOADER)
    await repo.users.create(
        "bench", [CALLER_SCOPE], False, hash_api_key(CALLER_KEY), now, LOADER
    )
    await repo.users.create("admin", [], True, hash_api_key(ADMIN_KEY), now, LOADER)

    mine, others = random.Random(1), random.Random(2)
    every = total / visible
    mine_docs: list[Document] = []
    guids: list[str] = []
    batch: list[Document] = []
    collection = client[db_name]["tokens"]
    for n in range(total):
        is_mine = int(n / every) != int((n + 1) / every)
        rng, scope = (mine, CALLER_SCOPE) if is_mine else (others, others.choice(OTHER_SCOPES))
        fields, audit = _token_fields(rng, scope, now)
        doc = _document(repo, fields, audit, now)
        batch.append(doc)
        if is_mine:
            mine_docs.append(doc)
            if audit["revoked_at"] is None and fields["valid_from"] <= now and (
                fields["valid_to"] is None or fields["valid_to"] > now
            ):
                guids.append(fields["guid"])
        if len(batch) == BATCH or n == total - 1:
            await collection.insert_many(batch, ordered=False)
            if progress is not None:
                progress(n + 1)
            batch = []
    # insert_many gave each document its _id.
    return Dataset(db_name, visible, total, [str(d["_id"]) for d in mine_docs], guids)


async def check_format(client: AsyncMongoClient[Document], db_name: str) -> None:
    """Fail loudly if bulk-loaded documents differ in shape from one the service wrote."""
    repo = Repository(client, db_name, keyring())
    made = await repo.tokens.insert(
        {"name": "Format check", "description": "", "scopes": [CALLER_SCOPE],
         "guid": str(uuid.uuid4()), "valid_from": utcnow(), "valid_to": None},
        "bench", utcnow(),
    )
    tokens = client[db_name]["tokens"]
    written = await tokens.find_one({"name": "Format check"})
    loaded = await tokens.find_one({"name": {"$ne": "Format check"}})
    assert written is not None and loaded is not None
    await repo.tokens.delete(made.id, None, LOADER, utcnow())
    if set(written) != set(loaded):
        raise RuntimeError(
            f"bulk documents differ from the service's: {sorted(set(written) ^ set(loaded))}"
        )
