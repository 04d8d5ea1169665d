"""TokensClient against the real server and database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.support import ADMIN_KEY
from tokens_widget import ApiError, TokensClient


async def test_health_and_me(admin: TokensClient) -> None:
    health = await admin.health()
    assert health.ok
    me = await admin.me()
    assert (me.name, me.admin) == ("admin", True)
    assert "/api/v1/tokens" in (await admin.openapi())["paths"]


async def test_token_lifecycle_with_typed_results(admin: TokensClient) -> None:
    until = datetime.now(UTC) + timedelta(days=30)
    token = await admin.create_token(
        "Nightly ETL", ["analytics"], description="loads the warehouse", valid_to=until
    )
    assert token.scopes == ("analytics",)
    assert token.is_active and token.status == "active" and token.version == 1
    for moment in (token.valid_from, token.created_at, token.updated_at, token.valid_to):
        assert moment is not None and moment.tzinfo is not None
    assert token.valid_to is not None and abs(token.valid_to - until) < timedelta(seconds=1)
    assert await admin.get_token(token.id) == token

    changed = await admin.update_token(token.id, name="Nightly ETL v2", valid_to=None, if_match=1)
    assert (changed.name, changed.valid_to, changed.version) == ("Nightly ETL v2", None, 2)

    rotated = await admin.regenerate_token(token.id, if_match=2)
    assert rotated.guid != token.guid
    assert (await admin.verify_token(token.guid)).status == "not_found"
    verification = await admin.verify_token(rotated.guid, ["analytics"])
    assert verification.valid and verification.token is not None
    assert verification.token.id == token.id

    revoked = await admin.revoke_token(token.id)
    assert revoked.revoked and not revoked.is_active and revoked.revoked_by == "admin"
    await admin.delete_token(token.id, if_match=revoked.version)
    with pytest.raises(ApiError) as gone:
        await admin.get_token(token.id)
    assert gone.value.status == 404


async def test_a_rotation_with_grace_keeps_the_old_guid_working(admin: TokensClient) -> None:
    token = await admin.create_token("Deploy bot", ["analytics"])
    rotated = await admin.regenerate_token(token.id, grace=timedelta(hours=1))
    assert rotated.previous_guid_until is not None
    old = await admin.verify_token(token.guid)
    assert old.valid and old.superseded and old.superseded_until == rotated.previous_guid_until
    assert not (await admin.verify_token(rotated.guid)).superseded

    # Replaced again by an edit, this time with no grace: both earlier GUIDs stop.
    guid = str(uuid.uuid4())
    edited = await admin.update_token(token.id, guid=guid, grace=timedelta(0))
    assert edited.previous_guid_until is None
    for stopped in (token.guid, rotated.guid):
        assert (await admin.verify_token(stopped)).status == "not_found"


async def test_problem_details_are_carried_by_api_error(admin: TokensClient) -> None:
    with pytest.raises(ApiError) as invalid:
        await admin.create_token("", [])
    assert invalid.value.status == 422
    assert {e.field for e in invalid.value.errors} == {"name", "scopes"}

    token = await admin.create_token("Shared", ["analytics"])
    await admin.update_token(token.id, description="first writer")
    with pytest.raises(ApiError) as stale:
        await admin.update_token(token.id, description="second writer", if_match=token.version)
    assert (stale.value.status, stale.value.title) == (412, "Precondition failed")
    assert stale.value.detail

    await admin.revoke_token(token.id)
    with pytest.raises(ApiError) as conflict:
        await admin.revoke_token(token.id)
    assert conflict.value.status == 409


async def test_naive_datetimes_are_refused_before_sending(admin: TokensClient) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await admin.create_token("Naive", ["analytics"], valid_to=datetime(2030, 1, 1))


async def test_list_filters_sort_and_pages(admin: TokensClient) -> None:
    for name, scope in [("alpha etl", "analytics"), ("Beta ETL", "ml"), ("gamma", "analytics")]:
        await admin.create_token(name, [scope])
    page = await admin.list_tokens(name="ETL", sort="-name", limit=1)
    assert (page.total, page.limit, page.offset) == (2, 1, 0)
    assert [t.name for t in page.items] == ["Beta ETL"]
    assert [t.name for t in (await admin.list_tokens(scopes=["ml"])).items] == ["Beta ETL"]
    everything = [t.name async for t in admin.iter_tokens(page_size=2)]
    assert everything == ["alpha etl", "Beta ETL", "gamma"]
    assert (await admin.list_tokens(status="inactive")).total == 0
    in_two_days = datetime.now(UTC) + timedelta(days=2)
    await admin.create_token("ending", ["ml"], valid_to=in_two_days)
    assert [t.name for t in (await admin.list_tokens(expires_within=7)).items] == ["ending"]
    # None was used yet (what a use does to the filter: tests/test_tokens_api.py).
    unused = await admin.list_tokens(unused_for=1)
    assert [t.name for t in unused.items] == ["alpha etl", "Beta ETL", "ending", "gamma"]


async def test_scopes_users_and_key_rotation(admin: TokensClient, server_url: str) -> None:
    created = await admin.create_user("alice", ["analytics"])
    assert "api_key='***'" in repr(created)
    async with TokensClient(server_url, created.api_key) as alice:
        assert (await alice.me()).scopes == ("analytics",)
        assert [s.name for s in await alice.list_scopes()] == ["analytics"]
        with pytest.raises(ApiError) as forbidden:
            await alice.list_users()
        assert forbidden.value.status == 403

    rotated = await admin.rotate_user_key("alice")
    assert rotated.api_key != created.api_key
    async with TokensClient(server_url, created.api_key) as old:
        with pytest.raises(ApiError) as refused:
            await old.me()
        assert refused.value.status == 401

    updated = await admin.update_user("alice", scopes=["analytics", "ml"], admin=False)
    assert updated.scopes == ("analytics", "ml")
    assert {u.name for u in await admin.list_users()} == {"admin", "alice"}
    await admin.delete_user("alice")

    await admin.create_scope("scratch", "temporary")
    await admin.delete_scope("scratch")
    assert "scratch" not in {s.name for s in await admin.list_scopes()}


async def test_an_unreachable_server_is_an_api_error_with_status_zero() -> None:
    async with TokensClient("http://127.0.0.1:9", ADMIN_KEY, timeout=5) as nowhere:
        with pytest.raises(ApiError) as unreachable:
            await nowhere.me()
    assert unreachable.value.status == 0


async def test_a_token_seen_through_some_of_its_scopes_comes_without_its_guid(
    admin: TokensClient, server_url: str
) -> None:
    shared = await admin.create_token("Shared", ["analytics", "finance"])
    analyst = await admin.create_user("analyst", ["analytics"])
    async with TokensClient(server_url, analyst.api_key) as tokens:
        seen = await tokens.get_token(shared.id)
        (listed,) = (await tokens.list_tokens()).items
    assert shared.guid is not None
    for token in (seen, listed):
        assert (token.guid, token.guid_prefix) == (None, shared.guid[:8])


async def test_from_env_reads_the_widgets_variables(
    admin: TokensClient, server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKENS_URL", server_url)
    monkeypatch.setenv("TOKENS_API_KEY", ADMIN_KEY)
    async with TokensClient.from_env() as tokens:
        assert (await tokens.me()).name == "admin"
    monkeypatch.delenv("TOKENS_API_KEY")
    with pytest.raises(ValueError, match="TOKENS_API_KEY"):
        TokensClient.from_env()


async def test_a_bulk_call_may_take_longer_than_a_single_call() -> None:
    """The widget sends up to 500 ids in one bulk request, which takes seconds: the client
    allows it BULK_TIMEOUT_S, while a single call keeps the client's own timeout."""

    async def slow_bulk(request: web.Request) -> web.Response:
        await asyncio.sleep(0.6)
        ids = (await request.json())["ids"]
        results = [{"id": i, "outcome": "revoked", "detail": None} for i in ids]
        return web.json_response({"results": results, "counts": {"revoked": len(ids)}})

    async def slow_me(request: web.Request) -> web.Response:
        await asyncio.sleep(0.6)
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/api/v1/tokens/bulk-revoke", slow_bulk)
    app.router.add_get("/api/v1/me", slow_me)
    server = TestServer(app)
    await server.start_server()
    try:
        url = str(server.make_url("")).rstrip("/")
        async with TokensClient(url, ADMIN_KEY, timeout=0.3) as client:
            done = await client.bulk_revoke(["a" * 24])
            assert done.counts.revoked == 1
            with pytest.raises(ApiError, match="no answer in time"):
                await client.me()
    finally:
        await server.close()
