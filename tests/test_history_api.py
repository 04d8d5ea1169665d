"""Reading the history: a token's events newest first, and every event a caller may see oldest
first, each paged by event id; a user sees only what its scopes allow, and the events about
itself (not about an earlier user of its name)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient

from tests.support import ADMIN, in_, problem

Client = TestClient[Any, Any]
TOKENS = "/api/v1/tokens"
EVENTS = "/api/v1/events"
MakeToken = Callable[..., Awaitable[dict[str, Any]]]
MakeScope = Callable[..., Awaitable[str]]
MakeUser = Callable[..., Awaitable[dict[str, str]]]


async def _get(client: Client, url: str, headers: dict[str, str] = ADMIN, **params: Any) -> Any:
    response = await client.get(url, params=params, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_a_token_history_is_newest_first_with_each_change_from_and_to(
    client: Client, make_scope: MakeScope, make_token: MakeToken
) -> None:
    await make_scope("ops")
    await make_scope("etl")
    token = await make_token(name="Nightly", scopes=["ops"])
    url = f"{TOKENS}/{token['id']}"
    until = in_(days=30)
    change = {"name": "Nightly ETL", "scopes": ["ops", "etl"], "valid_to": until}
    assert (await client.patch(url, json=change, headers=ADMIN)).status == 200
    assert (await client.post(f"{url}/revoke", headers=ADMIN)).status == 200

    page = await _get(client, f"{url}/history")
    assert [e["action"] for e in page["items"]] == [
        "token.revoked",
        "token.updated",
        "token.created",
    ]
    assert page["next"] is None
    updated = page["items"][1]
    assert updated["actor"] == "admin" and updated["version"] == 2
    assert updated["token_name"] == "Nightly ETL" and updated["scopes"] == ["ops", "etl"]
    assert updated["changes"] == {
        "name": {"from": "Nightly", "to": "Nightly ETL"},
        "scopes": {"from": ["ops"], "to": ["ops", "etl"]},
        "valid_to": {"from": None, "to": until.replace("Z", "")[:23] + "Z"},
    }
    revoked = page["items"][0]["changes"]
    assert revoked["revoked_by"] == {"from": None, "to": "admin"}
    assert revoked["revoked_at"]["to"].endswith("Z")


async def test_history_pages_by_event_id(
    client: Client, make_scope: MakeScope, make_token: MakeToken
) -> None:
    await make_scope("ops")
    token = await make_token(name="T0", scopes=["ops"])
    url = f"{TOKENS}/{token['id']}"
    for n in range(1, 5):
        assert (await client.patch(url, json={"name": f"T{n}"}, headers=ADMIN)).status == 200
    first = await _get(client, f"{url}/history", limit=2)
    second = await _get(client, f"{url}/history", limit=2, before=first["next"])
    third = await _get(client, f"{url}/history", limit=2, before=second["next"])
    names = [e["token_name"] for p in (first, second, third) for e in p["items"]]
    assert names == ["T4", "T3", "T2", "T1", "T0"]
    assert third["next"] is None
    ids = [e["id"] for p in (first, second, third) for e in p["items"]]
    assert ids == sorted(ids, reverse=True)


async def test_history_is_for_callers_who_see_the_token(
    client: Client, make_scope: MakeScope, make_token: MakeToken, make_user: MakeUser
) -> None:
    await make_scope("ops")
    await make_scope("finance")
    token = await make_token(name="Ledger", scopes=["finance"])
    url = f"{TOKENS}/{token['id']}/history"
    ops_user = await make_user("olga", ["ops"])
    await problem(await client.get(url, headers=ops_user), 404)
    await problem(await client.get(f"{TOKENS}/{'0' * 24}/history", headers=ADMIN), 404)
    await problem(await client.get(url, params={"limit": "0"}, headers=ADMIN), 422, "limit")
    await problem(await client.get(url, params={"before": "-1"}, headers=ADMIN), 422, "before")
    await problem(await client.get(url, params={"before": "1e3"}, headers=ADMIN), 422, "before")
    await problem(await client.get(url, params={"after": "1"}, headers=ADMIN), 422, "after")


async def test_a_user_sees_events_of_tokens_it_shared_a_scope_with_then(
    client: Client, make_scope: MakeScope, make_token: MakeToken, make_user: MakeUser
) -> None:
    await make_scope("ops")
    await make_scope("finance")
    token = await make_token(name="Moving", scopes=["finance"])
    url = f"{TOKENS}/{token['id']}"
    moved = await client.patch(url, json={"scopes": ["finance", "ops"]}, headers=ADMIN)
    assert moved.status == 200
    await make_token(name="Secret", scopes=["finance"])
    olga = await make_user("olga", ["ops"])
    rotated = await client.post("/api/v1/users/olga/key", headers=olga)
    olga = {"Authorization": f"Bearer {(await rotated.json())['api_key']}"}

    # The token's creation happened under "finance" alone: olga sees what followed.
    history = await _get(client, f"{url}/history", olga)
    assert [e["action"] for e in history["items"]] == ["token.updated"]
    everything = await _get(client, EVENTS, olga)
    assert [(e["action"], e["token_name"] or e["user"]) for e in everything["items"]] == [
        ("token.updated", "Moving"),
        ("user.created", "olga"),
        ("user.key_rotated", "olga"),
    ]
    admin_sees = await _get(client, EVENTS)
    assert len(admin_sees["items"]) == 1 + 2 + 3 + 2  # first admin, scopes, tokens, olga


async def test_a_user_made_again_under_a_name_does_not_see_the_first_ones_events(
    client: Client, make_scope: MakeScope, make_user: MakeUser
) -> None:
    await make_scope("ops")
    await make_user("olga", ["ops"])
    changed = await client.patch("/api/v1/users/olga", json={"scopes": []}, headers=ADMIN)
    assert changed.status == 200
    assert (await client.delete("/api/v1/users/olga", headers=ADMIN)).status == 204
    olga_again = await make_user("olga", [])

    everything = await _get(client, EVENTS, olga_again)
    assert [(e["action"], e["user"]) for e in everything["items"]] == [("user.created", "olga")]
    about_olga = [e for e in (await _get(client, EVENTS))["items"] if e["user"] == "olga"]
    assert [e["action"] for e in about_olga] == [
        "user.created",
        "user.updated",
        "user.deleted",
        "user.created",
    ]


async def test_the_event_list_resumes_after_an_id_and_keeps_deleted_tokens(
    client: Client, make_scope: MakeScope, make_token: MakeToken
) -> None:
    await make_scope("ops")
    start = (await _get(client, EVENTS))["next"]
    token = await make_token(name="Brief", scopes=["ops"])
    assert (await client.delete(f"{TOKENS}/{token['id']}", headers=ADMIN)).status == 204
    await problem(await client.get(f"{TOKENS}/{token['id']}/history", headers=ADMIN), 404)

    page = await _get(client, EVENTS, after=start, limit=1)
    assert [e["action"] for e in page["items"]] == ["token.created"]
    rest = await _get(client, EVENTS, after=page["next"])
    assert [e["action"] for e in rest["items"]] == ["token.deleted"]
    assert rest["items"][0]["token_name"] == "Brief"
    empty = await _get(client, EVENTS, after=rest["next"])
    assert empty == {"items": [], "next": rest["next"]}
