"""The list memory's load reads the tokens in bounded steps, however many there are, and steps
aside when there are more than it may hold.

Each read of the load must be answerable within the database's time limit (1.5 s by default)
at any size, so each must examine about what it returns. On the embedded database, which the
tests run on, an ``_id`` range sorted and limited, or a count, examines the whole collection
(measured: 23-31 s a read at 100,000 tokens): here every read the load sends is explained, and
none may examine more than it returns, nor return much more than a batch.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.database import Database
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)

from tests.support import ADMIN, AiohttpClient, eventually
from tokens_server.app import create_app
from tokens_server.domain.models import utcnow
from tokens_server.embedded import EmbeddedDatabase
from tokens_server.http.state import REPOSITORY
from tokens_server.live.list_keeper import ListKeeper
from tokens_server.secrets.keyring import Keyring, key_from_text
from tokens_server.settings import Settings
from tokens_server.storage import Repository
from tokens_server.storage.list_reads import BATCH
from tokens_server.storage.token_documents import ends_at

TOKENS = 3 * BATCH + BATCH // 2
# What a read may carry that its explanation must not.
_SESSION_FIELDS = (
    "lsid",
    "txnNumber",
    "maxTimeMS",
    "readConcern",
    "$db",
    "$clusterTime",
    "$readPreference",
)


class _Reads(CommandListener):
    """The find, aggregate and count commands sent to the tokens collection."""

    def __init__(self) -> None:
        self.commands: list[dict[str, Any]] = []

    def started(self, event: CommandStartedEvent) -> None:
        command = dict(event.command)
        if (
            event.command_name in ("find", "aggregate", "count")
            and command.get(event.command_name) == "tokens"
        ):
            self.commands.append({k: v for k, v in command.items() if k not in _SESSION_FIELDS})

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass


def _stored(n: int) -> dict[str, Any]:
    """A token as stored, with only what the list memory reads; its GUID hash is spread as an
    HMAC's is."""
    now = utcnow()
    name = f"Token {n:05d}"
    return {
        "name": name, "name_key": name.casefold(), "description": "", "scopes": ["ops"],
        "guid_enc": b"sealed", "guid_hash": hashlib.sha256(name.encode()).hexdigest(),
        "guid_prefix": f"{n:08x}", "valid_from": now, "valid_to": None, "ends_at": ends_at(None),
        "created_at": now, "created_by": "admin", "updated_at": now, "updated_by": "admin",
        "revoked_at": None, "revoked_by": None, "last_used_at": None, "version": 1,
    }  # fmt: skip


async def test_each_read_of_the_list_memory_load_examines_only_what_it_returns(
    database: EmbeddedDatabase, settings: Settings, raw_db: Database[dict[str, Any]]
) -> None:
    raw_db["tokens"].insert_many([_stored(n) for n in range(TOKENS)])
    reads = _Reads()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        database.uri, tz_aware=True, event_listeners=[reads]
    )
    keyring = Keyring(key_from_text(settings.secret_key, "TOKENS_SECRET_KEY"))
    repo = Repository(client, settings.db_name, keyring, list_memory_tokens=10 * TOKENS)
    keeper = ListKeeper(repo)
    try:
        await repo.prepare()  # the indexes, as the server makes them at start
        reads.commands.clear()
        keeper.opened()  # as when the change stream opens: the load begins
        await eventually(lambda: repo.lists.state == "ready", "the list memory loads", 120)
        stored = {str(doc["_id"]) for doc in raw_db["tokens"].find({}, {"_id": 1})}
        assert set(repo.lists.rows()) == stored
    finally:
        await keeper.close(5)
        await client.close()

    examined = []
    for command in reads.commands:
        explained = raw_db.command({"explain": command, "verbosity": "executionStats"})
        stats = explained["executionStats"]
        what = command.get("filter", command.get("pipeline", command.get("query")))
        examined.append((what, stats["totalDocsExamined"], stats["nReturned"]))
    assert len(examined) > TOKENS // BATCH, "the load read everything in fewer reads"
    unbounded = [read for read in examined if read[1] > read[2] or read[2] > 2 * BATCH]
    assert not unbounded, (
        f"{len(unbounded)} of the load's {len(examined)} reads examined more than they returned "
        f"or returned more than twice a batch ({BATCH}) of the {TOKENS} tokens "
        f"(condition, examined, returned): {unbounded}"
    )


async def test_with_more_tokens_than_memory_may_hold_lists_read_the_database_and_say_why(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(replace(settings, list_memory_tokens=4)))
    lists = client.app[REPOSITORY].lists
    await eventually(lambda: lists.answers, "the list memory loads the empty collection")
    response = await client.post("/api/v1/scopes", json={"name": "ops"}, headers=ADMIN)
    assert response.status == 201
    for n in range(5):  # the fifth is one more than memory may hold
        token = {"name": f"Token {n}", "scopes": ["ops"]}
        response = await client.post("/api/v1/tokens", json=token, headers=ADMIN)
        assert response.status == 201, await response.text()

    async def lists_say_why() -> bool:
        async with client.get("/api/v1/health") as response:
            body = await response.json()
        detail = "more tokens than TOKENS_LIST_MEMORY_TOKENS (4)"
        return (body["lists"], body["lists_detail"]) == ("database", detail)

    await eventually(lists_say_why, "health says lists read the database, and why")
    assert lists.rows() == {}
    async with client.get("/api/v1/tokens?sort=-name&limit=2", headers=ADMIN) as response:
        assert response.status == 200
        body = await response.json()
    assert body["total"] == 5
    assert [token["name"] for token in body["items"]] == ["Token 4", "Token 3"]
