"""Tokens written with a plaintext GUID by an older version are encrypted when the server starts."""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from tests.support import AiohttpClient
from tokens_server.app import create_app
from tokens_server.domain.models import utcnow
from tokens_server.settings import Settings

GUID = "3f2b8c1e-9a47-4c1d-8f0e-2b6a5d7c9e10"
# Several old tokens lack a guid_hash: a unique index on it built before migrating would fail.
OTHERS = ("5d0c7e4a-1b2f-4a8e-9c3d-6e7f8a9b0c1d", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")


async def test_a_plaintext_guid_is_encrypted_at_start_and_still_verifies(
    aiohttp_client: AiohttpClient, settings: Settings, raw_db: Database[dict[str, Any]]
) -> None:
    now = utcnow()
    raw_db["tokens"].insert_many([{
        "name": name, "name_key": name.casefold(), "guid": guid, "description": "",
        "scopes": ["a"], "valid_from": now, "valid_to": None, "created_at": now,
        "created_by": "admin", "updated_at": now, "updated_by": "admin", "revoked_at": None,
        "revoked_by": None, "last_used_at": None, "version": 1,
    } for name, guid in (("Old", GUID), ("Older", OTHERS[0]), ("Oldest", OTHERS[1]))])
    client = await aiohttp_client(create_app(settings))
    stored = raw_db["tokens"].find_one({"name": "Old"})
    assert stored is not None
    assert "guid" not in stored and stored["guid_prefix"] == GUID[:8]
    headers = {"Authorization": f"Bearer {settings.admin_key}"}
    answer = await client.post("/api/v1/tokens/verify", json={"guid": GUID}, headers=headers)
    assert (await answer.json())["status"] == "active"
    assert raw_db["tokens"].count_documents({"guid": {"$exists": True}}) == 0
    assert len(raw_db["tokens"].distinct("guid_hash")) == 3
