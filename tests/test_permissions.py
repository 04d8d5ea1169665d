"""Who sees and who may change which token: admin; a user holding all of a token's scopes; some of
them; none. Plus the admin-only operations and what each caller learns about itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.support import ADMIN, problem

Client = TestClient[Any, Any]
Headers = dict[str, str]
TOKENS = "/api/v1/tokens"


@pytest.fixture
async def cast(
    client: Client,
    make_scope: Callable[..., Awaitable[str]],
    make_user: Callable[..., Awaitable[Headers]],
) -> dict[str, Headers]:
    """Callers by their relation to a token scoped analytics+billing."""
    for name in ("analytics", "billing", "ops"):
        await make_scope(name, f"the {name} scope")
    return {
        "admin": ADMIN,
        "other admin": await make_user("root", [], admin=True),
        "all": await make_user("alice", ["analytics", "billing"]),
        "some": await make_user("sam", ["billing", "ops"]),
        "none": await make_user("nina", ["ops"]),
        "no scopes": await make_user("nobody", []),
    }


@pytest.fixture
async def shared(make_token: Callable[..., Awaitable[dict[str, Any]]], cast: Any) -> dict[str, Any]:
    return await make_token(name="Shared", scopes=["analytics", "billing"])


async def _admin_view(client: Client, token_id: str) -> dict[str, Any]:
    response = await client.get(f"{TOKENS}/{token_id}", headers=ADMIN)
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


SEES = {"admin": True, "other admin": True, "all": True, "some": True, "none": False,
        "no scopes": False}  # fmt: skip
CHANGES = {"admin": True, "other admin": True, "all": True}


@pytest.mark.parametrize("who", list(SEES))
async def test_visibility(
    client: Client, cast: dict[str, Headers], shared: dict[str, Any], who: str
) -> None:
    headers = cast[who]
    response = await client.get(f"{TOKENS}/{shared['id']}", headers=headers)
    listed = await (await client.get(TOKENS, headers=headers)).json()
    by_guid = await (await client.get(f"{TOKENS}?guid={shared['guid']}", headers=headers)).json()
    verify = await client.post(f"{TOKENS}/verify", json={"guid": shared["guid"]}, headers=headers)
    verified = (await verify.json())["status"]
    if SEES[who]:
        assert response.status == 200
        # The whole GUID only to those who hold every scope; the prefix to all who see it.
        whole = shared["guid"] if who in CHANGES else None
        for seen in (await response.json(), listed["items"][0]):
            assert (seen["guid"], seen["guid_prefix"]) == (whole, shared["guid"][:8])
        assert [t["id"] for t in listed["items"]] == [shared["id"]]
        assert by_guid["total"] == 1
        assert verified == "active"
    else:
        await problem(response, 404)
        assert listed == {"items": [], "total": 0, "limit": 50, "offset": 0}
        assert by_guid["total"] == 0
        assert verified == "not_found"


ACTIONS: dict[str, tuple[str, str, dict[str, Any] | None, int]] = {
    "patch": ("PATCH", "", {"name": "Changed"}, 200),
    "revoke": ("POST", "/revoke", None, 200),
    "regenerate": ("POST", "/regenerate", None, 200),
    "delete": ("DELETE", "", None, 204),
}


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("who", list(SEES))
async def test_change_needs_every_scope(
    client: Client, cast: dict[str, Headers], shared: dict[str, Any], who: str, action: str
) -> None:
    method, suffix, body, success = ACTIONS[action]
    url = f"{TOKENS}/{shared['id']}{suffix}"
    response = await client.request(method, url, json=body, headers=cast[who])
    if who in CHANGES:
        assert response.status == success, await response.text()
        return
    await problem(response, 403 if SEES[who] else 404)
    assert await _admin_view(client, shared["id"]) == shared


async def test_a_caller_can_only_give_scopes_it_holds(
    client: Client, cast: dict[str, Headers], make_token: Any
) -> None:
    alice = cast["all"]
    refused = await client.post(
        TOKENS, json={"name": "Mine", "scopes": ["analytics", "ops"]}, headers=alice
    )
    await problem(refused, 403)
    made = await client.post(TOKENS, json={"name": "Mine", "scopes": ["analytics"]}, headers=alice)
    assert made.status == 201
    token = await made.json()
    assert token["created_by"] == "alice"
    url = f"{TOKENS}/{token['id']}"
    await problem(await client.patch(url, json={"scopes": ["ops"]}, headers=alice), 403)
    widened = await client.patch(url, json={"scopes": ["analytics", "billing"]}, headers=alice)
    assert widened.status == 200
    assert (await widened.json())["updated_by"] == "alice"
    # Once it holds a scope alice lacks, she may still see it but no longer change it.
    assert (await client.patch(url, json={"scopes": ["ops"]}, headers=ADMIN)).status == 200
    await problem(await client.get(url, headers=alice), 404)
    admin_made = await make_token(name="Admin's", scopes=["ops", "billing"])
    await problem(
        await client.patch(f"{TOKENS}/{admin_made['id']}", json={"name": "X"}, headers=alice), 403
    )


async def test_scope_filter_with_a_scope_not_held_is_422(
    client: Client, cast: dict[str, Headers], shared: dict[str, Any]
) -> None:
    sam = cast["some"]
    await problem(await client.get(f"{TOKENS}?scope=analytics", headers=sam), 422, "scope")
    await problem(
        await client.get(f"{TOKENS}?scope=ops&scope=analytics", headers=sam), 422, "scope"
    )
    held = await (await client.get(f"{TOKENS}?scope=billing", headers=sam)).json()
    assert [t["id"] for t in held["items"]] == [shared["id"]]
    assert (await (await client.get(f"{TOKENS}?scope=ops", headers=sam)).json())["total"] == 0
    everything = await client.get(f"{TOKENS}?scope=ops&scope=analytics", headers=ADMIN)
    assert (await everything.json())["total"] == 1


async def test_verify_with_scopes_for_a_partial_holder(
    client: Client, cast: dict[str, Headers], shared: dict[str, Any]
) -> None:
    body = {"guid": shared["guid"], "scopes": ["analytics"]}
    answer = await (await client.post(f"{TOKENS}/verify", json=body, headers=cast["some"])).json()
    assert answer["status"] == "active"
    assert answer["token"]["scopes"] == ["analytics", "billing"]


ADMIN_ONLY = [
    ("POST", "/api/v1/scopes", {"name": "reports"}),
    ("DELETE", "/api/v1/scopes/ops", None),
    ("GET", "/api/v1/users", None),
    ("POST", "/api/v1/users", {"name": "mallory", "admin": True}),
    ("PATCH", "/api/v1/users/nina", {"admin": True}),
    ("PATCH", "/api/v1/users/alice", {"scopes": ["analytics", "billing", "ops"]}),
    ("DELETE", "/api/v1/users/nina", None),
    ("POST", "/api/v1/users/nina/key", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY)
async def test_non_admins_cannot_manage_users_or_scopes(
    client: Client, cast: dict[str, Headers], method: str, path: str, body: Any
) -> None:
    users_before = await (await client.get("/api/v1/users", headers=ADMIN)).json()
    scopes_before = await (await client.get("/api/v1/scopes", headers=ADMIN)).json()
    await problem(await client.request(method, path, json=body, headers=cast["all"]), 403)
    assert await (await client.get("/api/v1/users", headers=ADMIN)).json() == users_before
    assert await (await client.get("/api/v1/scopes", headers=ADMIN)).json() == scopes_before


@pytest.mark.parametrize(
    ("who", "name", "admin", "scopes"),
    [
        ("admin", "admin", True, ["analytics", "billing", "ops"]),
        ("other admin", "root", True, ["analytics", "billing", "ops"]),
        ("all", "alice", False, ["analytics", "billing"]),
        ("some", "sam", False, ["billing", "ops"]),
        ("no scopes", "nobody", False, []),
    ],
)
async def test_me_and_scopes_for_each_caller(
    client: Client, cast: dict[str, Headers], who: str, name: str, admin: bool, scopes: list[str]
) -> None:
    me = await client.get("/api/v1/me", headers=cast[who])
    assert me.status == 200
    assert await me.json() == {"name": name, "admin": admin, "scopes": scopes}
    listed = await (await client.get("/api/v1/scopes", headers=cast[who])).json()
    assert [s["name"] for s in listed["items"]] == scopes
    assert all(s["description"] == f"the {s['name']} scope" for s in listed["items"])


async def test_a_user_gaining_a_scope_sees_its_tokens(
    client: Client, cast: dict[str, Headers], shared: dict[str, Any]
) -> None:
    nina = cast["none"]
    await problem(await client.get(f"{TOKENS}/{shared['id']}", headers=nina), 404)
    patched = await client.patch(
        "/api/v1/users/nina", json={"scopes": ["ops", "billing"]}, headers=ADMIN
    )
    assert patched.status == 200
    assert (await client.get(f"{TOKENS}/{shared['id']}", headers=nina)).status == 200
    promoted = await client.patch("/api/v1/users/nina", json={"admin": True}, headers=ADMIN)
    assert promoted.status == 200
    revoked = await client.post(f"{TOKENS}/{shared['id']}/revoke", headers=nina)
    assert revoked.status == 200
    assert (await revoked.json())["revoked_by"] == "nina"


async def test_a_guid_in_use_is_409_even_when_its_token_is_invisible(
    client: Client, cast: dict[str, Headers], shared: dict[str, Any]
) -> None:
    # GUIDs are unique across all tokens (api.md: "not used by any token (409 if used)"). Only
    # someone who already knows a GUID learns it is in use, so this discloses nothing new.
    body = {"name": "Probe", "scopes": ["ops"], "guid": shared["guid"]}
    response = await client.post(TOKENS, json=body, headers=cast["none"])
    await problem(response, 409)
    fresh = {**body, "guid": str(uuid.uuid4())}
    assert (await client.post(TOKENS, json=fresh, headers=cast["none"])).status == 201


@pytest.mark.parametrize("who", ["some", "all"])
async def test_a_guid_filter_past_the_prefix_tells_only_those_who_may_hold_the_guid(
    client: Client, cast: dict[str, Headers], shared: dict[str, Any], who: str
) -> None:
    """Matching the 9th character would give a GUID away one character at a time (16 tries)."""
    guid = shared["guid"]

    async def total(prefix: str) -> int:
        response = await client.get(TOKENS, params={"guid": prefix}, headers=cast[who])
        assert response.status == 200
        found: int = (await response.json())["total"]
        return found

    ninth = {c: await total(guid[:8] + c) for c in "0123456789abcdef"}
    assert await total(guid[:8]) == 1  # the prefix is served to everyone who sees the token
    assert await total(guid) == 1  # the whole GUID: only who holds it already can ask
    if who in CHANGES:
        assert ninth == {c: int(c == guid[8]) for c in ninth}
    else:
        assert ninth == dict.fromkeys(ninth, 0)
        assert await total(guid[:20]) == 0
