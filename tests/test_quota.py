"""How many tokens a user may hold, and lists that may take longer than single-token calls."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pymongo.database import Database
from pymongo.errors import PyMongoError

from tests.support import ADMIN, AiohttpClient, problem
from tokens_server.app import create_app
from tokens_server.domain.errors import Unavailable
from tokens_server.domain.guids import new_guid
from tokens_server.domain.models import Caller, TokenQuery, utcnow
from tokens_server.secrets.keyring import Keyring, key_from_text
from tokens_server.settings import Settings, SettingsError
from tokens_server.storage import Repository, connect

Client = TestClient[Any, Any]
LIMIT = 5
TOKENS = "/api/v1/tokens"


@pytest.fixture
async def limited(aiohttp_client: AiohttpClient, settings: Settings) -> Client:
    return await aiohttp_client(create_app(replace(settings, max_tokens_per_user=LIMIT)))


async def _user(client: Client, name: str, admin: bool = False) -> dict[str, str]:
    await client.post("/api/v1/scopes", json={"name": "analytics"}, headers=ADMIN)
    body = {"name": name, "scopes": ["analytics"], "admin": admin}
    response = await client.post("/api/v1/users", json=body, headers=ADMIN)
    assert response.status == 201, await response.text()
    return {"Authorization": f"Bearer {(await response.json())['api_key']}"}


def _create(client: Client, headers: dict[str, str], n: int) -> Any:
    return client.post(
        TOKENS, json={"name": f"Token {n}", "scopes": ["analytics"]}, headers=headers
    )


async def test_a_user_holds_at_most_the_limit_and_deleting_frees_a_place(limited: Client) -> None:
    alice = await _user(limited, "alice")
    made = []
    for n in range(LIMIT):
        response = await _create(limited, alice, n)
        assert response.status == 201, await response.text()
        made.append((await response.json())["id"])
    body = await problem(await _create(limited, alice, LIMIT), 409)
    assert body["type"] == "/problems/token-limit" and str(LIMIT) in body["detail"]
    # An admin deleting one of alice's tokens gives her place back.
    assert (await limited.delete(f"{TOKENS}/{made[0]}", headers=ADMIN)).status == 204
    assert (await _create(limited, alice, LIMIT + 1)).status == 201
    await problem(await _create(limited, alice, LIMIT + 2), 409)


async def test_a_bulk_delete_gives_back_each_place(limited: Client) -> None:
    alice = await _user(limited, "alice")
    made = [(await (await _create(limited, alice, n)).json())["id"] for n in range(LIMIT)]
    body = {"ids": [*made[:3], made[0][::-1]]}  # one unknown id gives back nothing
    response = await limited.post(f"{TOKENS}/bulk-delete", json=body, headers=ADMIN)
    assert (await response.json())["counts"] == {
        "deleted": 3,
        "not_found": 1,
        "revoked": 0,
        "forbidden": 0,
        "conflict": 0,
    }
    for n in range(3):
        assert (await _create(limited, alice, LIMIT + n)).status == 201
    await problem(await _create(limited, alice, LIMIT + 3), 409)


async def test_admins_have_no_limit(limited: Client) -> None:
    carol = await _user(limited, "carol", admin=True)
    for headers in (ADMIN, carol):
        for n in range(LIMIT + 2):
            assert (await _create(limited, headers, n)).status == 201


async def test_concurrent_creates_by_one_user_never_pass_the_limit(
    limited: Client, raw_db: Database[dict[str, Any]]
) -> None:
    bob = await _user(limited, "bob")
    responses = await asyncio.gather(*[_create(limited, bob, n) for n in range(LIMIT * 4)])
    assert Counter(r.status for r in responses) == Counter({201: LIMIT, 409: LIMIT * 3})
    assert raw_db["tokens"].count_documents({"created_by": "bob"}) == LIMIT


async def test_a_user_made_again_under_an_old_name_finds_its_old_tokens(limited: Client) -> None:
    dave = await _user(limited, "dave")
    for n in range(LIMIT):
        assert (await _create(limited, dave, n)).status == 201
    assert (await limited.delete("/api/v1/users/dave", headers=ADMIN)).status == 204
    dave = await _user(limited, "dave")
    await problem(await _create(limited, dave, LIMIT), 409)


def test_limits_come_from_the_environment() -> None:
    env = {"TOKENS_MAX_TOKENS_PER_USER": "20", "TOKENS_LIST_TIMEOUT_MS": "30000"}
    settings = Settings.from_env(env)
    assert (settings.max_tokens_per_user, settings.list_timeout_ms) == (20, 30000)
    assert Settings().max_tokens_per_user == 1000
    for bad in ("0", "-1", "many"):
        with pytest.raises(SettingsError, match="TOKENS_MAX_TOKENS_PER_USER"):
            Settings.from_env({"TOKENS_MAX_TOKENS_PER_USER": bad})


VISIBLE = 5000
SHORT_MS = 50  # ample for one indexed lookup (about 1 ms), far short of a list of 5,000


@pytest.mark.slow
async def test_a_list_has_its_own_time_limit(
    client: Client, settings: Settings, raw_db: Database[dict[str, Any]]
) -> None:
    # Every call gets SHORT_MS, as a server with a short database limit would; the list of
    # 5,000 visible tokens (40-100 µs each on the embedded database) needs far more.
    assert settings.mongo_uri is not None
    assert settings.secret_key is not None
    keyring = Keyring(key_from_text(settings.secret_key, "TOKENS_SECRET_KEY"))
    async with connect(settings.mongo_uri, SHORT_MS) as short:
        repo = Repository(short, settings.db_name, keyring)
        now = utcnow()
        fields = {"description": "", "scopes": ["analytics"], "valid_from": now, "valid_to": None}
        raw_db["tokens"].insert_many(
            repo.tokens._stored({**fields, "name": f"Token {n}", "guid": new_guid()})
            | {
                "created_at": now,
                "created_by": "admin",
                "updated_at": now,
                "updated_by": "admin",
                "revoked_at": None,
                "revoked_by": None,
                "last_used_at": None,
                "version": 1,
            }
            for n in range(VISIBLE)
        )
        admin = Caller(name="admin", admin=True, scopes=frozenset(), user_id="")
        query = TokenQuery(
            keywords=(),
            guid_prefix=None,
            scopes=None,
            caller=admin,
            status=None,
            sort="-is_active",
            limit=50,
            offset=0,
        )
        page = await repo.token_pages.page(query, utcnow())
        assert page.total == VISIBLE and len(page.items) == 50
        # Held to the short limit instead, the same list does not finish.
        short_lists = timedelta(milliseconds=SHORT_MS)
        impatient = Repository(short, settings.db_name, keyring, list_timeout=short_lists)
        with pytest.raises(Unavailable) as error:
            await impatient.token_pages.page(query, utcnow())
        cause = error.value.__cause__
        assert isinstance(cause, PyMongoError) and cause.timeout
