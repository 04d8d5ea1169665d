"""Tokens written with a plaintext GUID by an older version are encrypted when the server starts."""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from tests.conftest import AiohttpClient
from tokens_server.app import create_app
from tokens_server.models import utcnow
from tokens_server.settings import Settings

GUID = "3f2b8c1e-9a47-4c1d-8f0e-2b6a5d7c9e10"


async def test_a_plaintext_guid_is_encrypted_at_start_and_still_verifies(
    aiohttp_client: AiohttpClient, settings: Settings, raw_db: Database[dict[str, Any]]
) -> None:
    now = utcnow()
    raw_db["tokens"].insert_one({
        "name": "Old", "name_key": "old", "guid": GUID, "description": "", "scopes": ["a"],
        "valid_from": now, "valid_to": None, "created_at": now, "created_by": "admin",
        "updated_at": now, "updated_by": "admin", "revoked_at": None, "revoked_by": None,
        "last_used_at": None, "version": 1,
    })
    client = await aiohttp_client(create_app(settings))
    stored = raw_db["tokens"].find_one({"name": "Old"})
    assert stored is not None
    assert "guid" not in stored and stored["guid_prefix"] == GUID[:8]
    headers = {"Authorization": f"Bearer {settings.admin_key}"}
    answer = await client.post("/api/v1/tokens/verify", json={"guid": GUID}, headers=headers)
    assert (await answer.json())["status"] == "active"
