"""TokensClient's history calls against the real server: a token's events newest first, paged by
``before``; every visible event oldest first, paged by ``after``."""

from __future__ import annotations

import pytest

from tokens_widget import ApiError, TokensClient


async def test_history_is_newest_first_with_each_change(admin: TokensClient) -> None:
    token = await admin.create_token("Nightly", ["analytics"])
    await admin.update_token(token.id, name="Nightly ETL", scopes=["analytics", "ml"])
    await admin.regenerate_token(token.id)
    await admin.revoke_token(token.id)

    page = await admin.history(token.id)
    assert [e.action for e in page.items] == [
        "token.revoked",
        "token.regenerated",
        "token.updated",
        "token.created",
    ]
    assert page.next is None
    updated = page.items[2]
    assert updated.actor == "admin" and updated.version == 2 and updated.at.tzinfo is not None
    assert (
        updated.changes["name"].from_ == "Nightly" and updated.changes["name"].to == "Nightly ETL"
    )
    assert updated.changes["scopes"].to == ["analytics", "ml"]
    regenerated = page.items[1].changes["guid_prefix"]
    assert regenerated.from_ != regenerated.to
    assert page.items[0].changes["revoked_by"].to == "admin"


async def test_history_pages_with_before_and_iterates_to_the_first_event(
    admin: TokensClient,
) -> None:
    token = await admin.create_token("T0", ["analytics"])
    for n in range(1, 5):
        await admin.update_token(token.id, name=f"T{n}")
    first = await admin.history(token.id, limit=2)
    assert [e.token_name for e in first.items] == ["T4", "T3"]
    assert first.next is not None
    second = await admin.history(token.id, limit=2, before=first.next)
    assert [e.token_name for e in second.items] == ["T2", "T1"]
    every = [e.token_name async for e in admin.iter_history(token.id, page_size=2)]
    assert every == ["T4", "T3", "T2", "T1", "T0"]


async def test_history_of_a_token_the_caller_cannot_see_is_a_404(
    admin: TokensClient, server_url: str
) -> None:
    token = await admin.create_token("Ledger", ["finance"])
    analyst = await admin.create_user("analyst", ["analytics"])
    async with TokensClient(server_url, analyst.api_key) as client:
        with pytest.raises(ApiError) as hidden:
            await client.history(token.id)
    assert hidden.value.status == 404


async def test_list_events_is_oldest_first_and_pages_with_after(admin: TokensClient) -> None:
    start = (await admin.list_events()).next or 0
    token = await admin.create_token("Feed", ["ml"])
    await admin.delete_token(token.id)
    page = await admin.list_events(after=start)
    assert [(e.action, e.token_id) for e in page.items] == [
        ("token.created", token.id),
        ("token.deleted", token.id),
    ]
    first = await admin.list_events(after=start, limit=1)
    assert [e.action for e in first.items] == ["token.created"]
    rest = await admin.list_events(after=first.next or 0)
    assert [e.action for e in rest.items] == ["token.deleted"]
    assert (await admin.list_events(after=page.next or 0)).items == ()
