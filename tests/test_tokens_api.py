"""The token operations of the contract, from the outside: create, read, list, change, verify.

One file for the whole contract of /tokens, in the order of the operation table, so a reader
checks an operation against its tests in one place; that is why it is long.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId
from pymongo.database import Database

from tests.support import ADMIN, expire, in_, iso, now, parse, problem, set_raw
from tokens_server.http.state import REPOSITORY

Client = TestClient[Any, Any]
MakeToken = Callable[..., Awaitable[dict[str, Any]]]
MakeScope = Callable[..., Awaitable[str]]
RawDb = Database[dict[str, Any]]

TOKENS = "/api/v1/tokens"


@pytest.fixture
async def scoped(make_scope: MakeScope) -> None:
    for name in ("analytics", "billing", "ops"):
        await make_scope(name)


async def _get(client: Client, token_id: str) -> dict[str, Any]:
    response = await client.get(f"{TOKENS}/{token_id}", headers=ADMIN)
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def _list(client: Client, query: str = "", headers: dict[str, str] = ADMIN) -> dict[str, Any]:
    response = await client.get(f"{TOKENS}?{query}", headers=headers)
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def _names(client: Client, query: str = "") -> list[str]:
    return [t["name"] for t in (await _list(client, query))["items"]]


async def _verify(client: Client, guid: str, scopes: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"guid": guid}
    if scopes is not None:
        body["scopes"] = scopes
    response = await client.post(f"{TOKENS}/verify", json=body, headers=ADMIN)
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


# ---- create ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("scoped")
async def test_create_answers_201_with_location_etag_and_defaults(client: Client) -> None:
    before = now()
    response = await client.post(
        TOKENS, json={"name": "  Nightly ETL  ", "scopes": ["analytics"]}, headers=ADMIN
    )
    after = now()
    assert response.status == 201
    token = await response.json()
    assert response.headers["Location"] == f"{TOKENS}/{token['id']}"
    assert response.headers["ETag"] == '"1"'
    assert token["name"] == "Nightly ETL"
    assert token["description"] == ""
    assert token["scopes"] == ["analytics"]
    assert token["valid_to"] is None
    assert before - timedelta(seconds=1) <= parse(token["valid_from"]) <= after
    assert token["valid_from"] == token["created_at"] == token["updated_at"]
    assert token["is_active"] is True and token["status"] == "active"
    assert token["created_by"] == token["updated_by"] == "admin"
    assert token["revoked_at"] is None and token["revoked_by"] is None
    assert token["last_used_at"] is None
    assert token["version"] == 1
    guid = uuid.UUID(token["guid"])
    assert guid.version == 4 and str(guid) == token["guid"]
    assert await _get(client, token["id"]) == token


@pytest.mark.usefixtures("scoped")
async def test_server_guids_differ(make_token: MakeToken) -> None:
    guids = {(await make_token(name=f"T{i}", scopes=["ops"]))["guid"] for i in range(5)}
    assert len(guids) == 5


@pytest.mark.usefixtures("scoped")
async def test_create_with_client_guid_and_dates(client: Client, make_token: MakeToken) -> None:
    guid = str(uuid.uuid4())
    valid_from, valid_to = now() + timedelta(days=1), now() + timedelta(days=30)
    token = await make_token(
        name="Later",
        scopes=["analytics", "billing"],
        description="line one\nline two\ttab",
        guid=guid,
        valid_from=iso(valid_from),
        valid_to=iso(valid_to),
    )
    assert token["guid"] == guid
    assert token["description"] == "line one\nline two\ttab"
    assert token["status"] == "scheduled" and token["is_active"] is False
    assert abs(parse(token["valid_from"]) - valid_from) < timedelta(milliseconds=1)
    assert abs(parse(token["valid_to"]) - valid_to) < timedelta(milliseconds=1)
    duplicate = await client.post(
        TOKENS, json={"name": "Twin", "scopes": ["ops"], "guid": guid}, headers=ADMIN
    )
    await problem(duplicate, 409)
    assert (await _list(client))["total"] == 1


@pytest.mark.usefixtures("scoped")
async def test_timestamps_with_offsets_are_answered_in_utc(make_token: MakeToken) -> None:
    token = await make_token(name="Offset", scopes=["ops"], valid_to="2099-01-01T12:30:00+02:00")
    assert token["valid_to"] in ("2099-01-01T10:30:00Z", "2099-01-01T10:30:00.000Z")
    for field in ("valid_from", "created_at", "updated_at"):
        parse(token[field])


@pytest.mark.usefixtures("scoped")
async def test_naive_timestamp_is_422(client: Client) -> None:
    response = await client.post(
        TOKENS,
        json={"name": "N", "scopes": ["ops"], "valid_to": "2099-01-01T10:00:00"},
        headers=ADMIN,
    )
    await problem(response, 422, "valid_to")


@pytest.mark.usefixtures("scoped")
async def test_valid_from_may_lie_within_the_clock_skew(client: Client) -> None:
    ok = await client.post(
        TOKENS,
        json={"name": "Skew", "scopes": ["ops"], "valid_from": in_(minutes=-3)},
        headers=ADMIN,
    )
    assert ok.status == 201, await ok.text()
    assert (await ok.json())["status"] == "active"
    late = await client.post(
        TOKENS,
        json={"name": "Late", "scopes": ["ops"], "valid_from": in_(minutes=-7)},
        headers=ADMIN,
    )
    await problem(late, 422, "valid_from")


# One instant for both ends of the empty window: two calls to ``in_`` can fall in
# different milliseconds and so make a one-millisecond window, which is valid.
TOMORROW = in_(days=1)


@pytest.mark.usefixtures("scoped")
@pytest.mark.parametrize(
    ("dates", "field"),
    [
        ({"valid_to": in_(minutes=-1)}, "valid_to"),
        ({"valid_from": in_(days=2), "valid_to": in_(days=1)}, "valid_to"),
        ({"valid_from": TOMORROW, "valid_to": TOMORROW}, "valid_to"),
        ({"valid_from": in_(days=-1)}, "valid_from"),
    ],
)
async def test_create_refuses_past_and_empty_windows(
    client: Client, dates: dict[str, str], field: str
) -> None:
    response = await client.post(
        TOKENS, json={"name": "X", "scopes": ["ops"], **dates}, headers=ADMIN
    )
    await problem(response, 422, field)
    assert (await _list(client))["total"] == 0


# ---- get / delete ----------------------------------------------------------------------------


@pytest.mark.usefixtures("scoped")
async def test_get_unknown_and_malformed_ids_are_404(client: Client) -> None:
    for token_id in ("6747f0c2a1b2c3d4e5f60718", "not-an-id", "%24where"):
        await problem(await client.get(f"{TOKENS}/{token_id}", headers=ADMIN), 404)


@pytest.mark.usefixtures("scoped")
async def test_delete_answers_204_then_404(client: Client, make_token: MakeToken) -> None:
    token = await make_token(name="Gone", scopes=["ops"])
    url = f"{TOKENS}/{token['id']}"
    await problem(await client.delete(url, headers={**ADMIN, "If-Match": '"7"'}), 412)
    response = await client.delete(url, headers={**ADMIN, "If-Match": '"1"'})
    assert response.status == 204
    assert await response.read() == b""
    await problem(await client.get(url, headers=ADMIN), 404)
    await problem(await client.delete(url, headers=ADMIN), 404)
    assert (await _verify(client, token["guid"]))["status"] == "not_found"


# ---- list: filters ---------------------------------------------------------------------------


@pytest.fixture
async def catalogue(scoped: None, make_token: MakeToken) -> dict[str, dict[str, Any]]:
    names = {
        "Nightly ETL": ["analytics"],
        "nightly backup": ["ops"],
        "Billing export (daily)": ["billing"],
        "Weird .* $where": ["analytics", "ops"],
        "ETL nightly copy": ["billing", "analytics"],
    }
    return {name: await make_token(name=name, scopes=scopes) for name, scopes in names.items()}


@pytest.mark.usefixtures("catalogue")
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("nightly", ["ETL nightly copy", "nightly backup", "Nightly ETL"]),
        ("NIGHTLY etl", ["ETL nightly copy", "Nightly ETL"]),
        ("etl   nightly", ["ETL nightly copy", "Nightly ETL"]),
        ("nightly daily", []),
        ("(daily)", ["Billing export (daily)"]),
        ("(", ["Billing export (daily)"]),
        (".*", ["Weird .* $where"]),
        ("$where", ["Weird .* $where"]),
        ("^N", []),
        ("N.ghtly", []),
        ("[a-z]", []),
        (
            "",
            [
                "Billing export (daily)",
                "ETL nightly copy",
                "nightly backup",
                "Nightly ETL",
                "Weird .* $where",
            ],
        ),
    ],
)
async def test_name_keywords_are_text_all_required_case_insensitive(
    client: Client, name: str, expected: list[str]
) -> None:
    result = await client.get(TOKENS, params={"name": name}, headers=ADMIN)
    assert result.status == 200, await result.text()
    assert [t["name"] for t in (await result.json())["items"]] == expected


async def test_guid_prefix_filter(client: Client, catalogue: dict[str, dict[str, Any]]) -> None:
    token = catalogue["Nightly ETL"]
    guid = token["guid"]
    for length in (4, 5, 8, 9, 13, 20, 35, 36):
        for text in (guid[:length], guid[:length].upper()):
            page = await _list(client, f"guid={text}")
            ids = [t["id"] for t in page["items"]]
            assert token["id"] in ids, (length, text)
            assert all(t["guid"].startswith(guid[:length]) for t in page["items"])
            assert page["total"] == len(ids)
    assert (await _list(client, f"guid={guid[:35]}0" if guid[35] != "0" else f"guid={guid[:35]}1"))[
        "items"
    ] == []
    for pattern in (".*.*", "....", "$where", "^" + guid[:4], guid[:4] + ".*"):
        page = await _list(client, f"guid={pattern}")
        assert page["items"] == [] and page["total"] == 0
    await problem(await client.get(f"{TOKENS}?guid={guid[:3]}", headers=ADMIN), 422, "guid")


async def test_guid_filter_with_a_long_prefix_counts_and_pages(
    client: Client, scoped: None, make_token: MakeToken
) -> None:
    shared = "1234abcd-5678-4"
    # Random tails: the server refuses client GUIDs that are too regular to be random.
    guids = [f"{shared}{i:03x}{str(uuid.uuid4())[18:]}" for i in range(5)]
    for i, guid in enumerate(guids):
        await make_token(name=f"Same prefix {i}", scopes=["ops"], guid=guid)
    await make_token(name="Other", scopes=["ops"], guid=f"1234abcd{str(uuid.uuid4())[8:]}")
    page = await _list(client, f"guid={shared}&limit=2&offset=2")
    assert page["total"] == 5
    assert [t["name"] for t in page["items"]] == ["Same prefix 2", "Same prefix 3"]
    assert (await _list(client, "guid=1234abcd"))["total"] == 6


async def test_scope_filter_is_repeatable_and_means_any(
    client: Client, catalogue: dict[str, dict[str, Any]]
) -> None:
    assert await _names(client, "scope=billing") == ["Billing export (daily)", "ETL nightly copy"]
    assert await _names(client, "scope=ops&scope=billing") == [
        "Billing export (daily)",
        "ETL nightly copy",
        "nightly backup",
        "Weird .* $where",
    ]
    assert await _names(client, "scope=ops&name=nightly") == ["nightly backup"]


@pytest.fixture
async def lifecycle(
    client: Client, scoped: None, make_token: MakeToken, raw_db: RawDb
) -> dict[str, dict[str, Any]]:
    """One token in each status."""
    tokens = {
        "active": await make_token(name="A active", scopes=["ops"]),
        "scheduled": await make_token(name="B scheduled", scopes=["ops"], valid_from=in_(days=1)),
        "expired": await make_token(name="C expired", scopes=["ops"], valid_to=in_(days=1)),
        "revoked": await make_token(name="D revoked", scopes=["ops"]),
        "ending": await make_token(name="E ending", scopes=["ops"], valid_to=in_(days=1)),
    }
    await expire(client, raw_db, tokens["expired"]["id"])
    revoke = await client.post(f"{TOKENS}/{tokens['revoked']['id']}/revoke", headers=ADMIN)
    assert revoke.status == 200
    return {key: await _get(client, token["id"]) for key, token in tokens.items()}


async def test_each_status_is_reported(lifecycle: dict[str, dict[str, Any]]) -> None:
    for key in ("active", "scheduled", "expired", "revoked"):
        assert lifecycle[key]["status"] == key
        assert lifecycle[key]["is_active"] is (key == "active")
    assert lifecycle["ending"]["status"] == "active"


@pytest.mark.usefixtures("lifecycle")
async def test_status_filter(client: Client) -> None:
    assert await _names(client, "status=active") == ["A active", "E ending"]
    assert await _names(client, "status=inactive") == ["B scheduled", "C expired", "D revoked"]
    assert len(await _names(client)) == 5
    await problem(await client.get(f"{TOKENS}?status=revoked", headers=ADMIN), 422, "status")


# ---- list: sorting and paging ----------------------------------------------------------------


@pytest.fixture
async def sortable(
    client: Client, scoped: None, make_token: MakeToken, raw_db: RawDb
) -> list[dict[str, Any]]:
    specs = [
        ("beta", True),
        ("Alpha", False),
        ("alpha", True),
        ("Gamma", True),
        ("delta", False),
        ("ALPHA", True),
        ("Beta", False),
    ]
    made = []
    for name, active in specs:
        token = await make_token(name=name, scopes=["ops"])
        if not active:
            await expire(client, raw_db, token["id"])
        made.append(await _get(client, token["id"]))
    return made


def _order(tokens: list[dict[str, Any]], sort: str) -> list[str]:
    """The contract's order: the key, then name ascending (case-insensitively), then id."""

    def by_name(t: dict[str, Any]) -> tuple[Any, ...]:
        return (t["name"].casefold(), t["name"], t["id"])

    ordered = sorted(tokens, key=by_name)
    if sort == "-name":
        ordered = sorted(tokens, key=lambda t: t["id"])
        ordered = sorted(ordered, key=lambda t: t["name"])
        ordered = sorted(ordered, key=lambda t: t["name"].casefold(), reverse=True)
    elif sort == "is_active":
        ordered = sorted(ordered, key=lambda t: t["is_active"])
    elif sort == "-is_active":
        ordered = sorted(ordered, key=lambda t: not t["is_active"])
    return [t["id"] for t in ordered]


@pytest.mark.parametrize("sort", ["name", "-name", "is_active", "-is_active", None])
async def test_sort_orders(
    client: Client, sortable: list[dict[str, Any]], sort: str | None
) -> None:
    page = await _list(client, "" if sort is None else f"sort={sort}")
    assert [t["id"] for t in page["items"]] == _order(sortable, sort or "name")


async def test_name_sort_is_case_insensitive(
    client: Client, sortable: list[dict[str, Any]]
) -> None:
    names = [t["name"].casefold() for t in (await _list(client, "sort=name"))["items"]]
    assert names == sorted(names)
    active_first = (await _list(client, "sort=-is_active"))["items"]
    assert [t["is_active"] for t in active_first] == [True] * 4 + [False] * 3


@pytest.mark.parametrize("sort", ["name", "-name", "is_active", "-is_active"])
async def test_pages_are_stable_and_complete(
    client: Client, sortable: list[dict[str, Any]], sort: str
) -> None:
    whole = [t["id"] for t in (await _list(client, f"sort={sort}&limit=200"))["items"]]
    paged: list[str] = []
    for offset in range(0, 8, 3):
        page = await _list(client, f"sort={sort}&limit=3&offset={offset}")
        assert page["total"] == 7 and page["limit"] == 3 and page["offset"] == offset
        paged += [t["id"] for t in page["items"]]
    assert paged == whole
    assert len(set(paged)) == 7


@pytest.mark.usefixtures("sortable")
async def test_paging_defaults_and_past_the_end(client: Client) -> None:
    page = await _list(client)
    assert (page["limit"], page["offset"], page["total"]) == (50, 0, 7)
    beyond = await _list(client, "offset=100")
    assert beyond["items"] == [] and beyond["total"] == 7
    assert len((await _list(client, "limit=1"))["items"]) == 1
    assert len((await _list(client, "limit=200"))["items"]) == 7


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=-1", "limit"),
        ("offset=-1", "offset"),
        ("limit=ten", "limit"),
        ("offset=1.5", "offset"),
        ("sort=updated_at", "sort"),
        ("sort=+name", "sort"),
    ],
)
async def test_out_of_range_paging_and_sort_are_422_not_clamped(
    client: Client, query: str, field: str
) -> None:
    await problem(await client.get(f"{TOKENS}?{query}", headers=ADMIN), 422, field)


# ---- patch -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("scoped")
async def test_patch_each_field_and_etag_increments(client: Client, make_token: MakeToken) -> None:
    token = await make_token(name="Before", scopes=["ops"])
    url = f"{TOKENS}/{token['id']}"
    new_guid = str(uuid.uuid4())
    changes: list[dict[str, Any]] = [
        {"name": "After"},
        {"description": "why it exists"},
        {"scopes": ["analytics", "ops"]},
        {"valid_to": in_(days=3)},
        {"valid_from": in_(days=1)},
        {"guid": new_guid},
        {"valid_to": None},
        {"valid_from": None},
    ]
    version = 1
    for change in changes:
        response = await client.patch(
            url, json=change, headers={**ADMIN, "If-Match": f'"{version}"'}
        )
        assert response.status == 200, (change, await response.text())
        version += 1
        body = await response.json()
        assert response.headers["ETag"] == f'"{version}"'
        assert body["version"] == version
        for field, value in change.items():
            if field in ("valid_from", "valid_to") and value is not None:
                assert abs(parse(body[field]) - parse(value)) < timedelta(milliseconds=1)
            elif field != "valid_from":
                assert body[field] == value, field
    final = await _get(client, token["id"])
    assert final["status"] == "active" and final["valid_to"] is None
    assert parse(final["valid_from"]) >= parse(token["valid_from"])
    assert final["guid"] == new_guid and final["updated_by"] == "admin"
    assert (await _verify(client, new_guid))["status"] == "active"
    assert (await _verify(client, token["guid"]))["status"] == "not_found"


@pytest.mark.usefixtures("scoped")
async def test_patch_with_stale_if_match_is_412_and_changes_nothing(
    client: Client, make_token: MakeToken
) -> None:
    token = await make_token(name="Stale", scopes=["ops"])
    url = f"{TOKENS}/{token['id']}"
    assert (await client.patch(url, json={"name": "One"}, headers=ADMIN)).status == 200
    stale = await client.patch(url, json={"name": "Two"}, headers={**ADMIN, "If-Match": '"1"'})
    await problem(stale, 412)
    current = await _get(client, token["id"])
    assert current["name"] == "One" and current["version"] == 2
    weak = await client.patch(url, json={"name": "Three"}, headers={**ADMIN, "If-Match": 'W/"2"'})
    assert weak.status == 200


@pytest.mark.usefixtures("scoped")
async def test_patch_without_change_keeps_the_version(
    client: Client, make_token: MakeToken
) -> None:
    token = await make_token(name="Same", scopes=["ops"])
    response = await client.patch(
        f"{TOKENS}/{token['id']}", json={"name": "Same", "scopes": ["ops"]}, headers=ADMIN
    )
    assert response.status == 200
    assert (await response.json())["version"] == 1


@pytest.mark.usefixtures("scoped")
async def test_patch_leaves_unchanged_past_dates_alone(
    client: Client, make_token: MakeToken, raw_db: RawDb
) -> None:
    token = await make_token(name="Old", scopes=["ops"], valid_to=in_(days=5))
    await set_raw(client, raw_db, token["id"], valid_from=now() - timedelta(days=10))
    url = f"{TOKENS}/{token['id']}"
    stored = await _get(client, token["id"])
    for change in (
        {"name": "Renamed"},
        {"valid_from": stored["valid_from"]},
        {"valid_to": in_(days=9)},
        {"valid_from": stored["valid_from"], "valid_to": None},
    ):
        response = await client.patch(url, json=change, headers=ADMIN)
        assert response.status == 200, (change, await response.text())
    changed = await client.patch(url, json={"valid_from": in_(days=-9)}, headers=ADMIN)
    await problem(changed, 422, "valid_from")


@pytest.mark.usefixtures("scoped")
async def test_patch_refuses_past_dates_and_empty_windows(
    client: Client, make_token: MakeToken
) -> None:
    token = await make_token(name="Dates", scopes=["ops"], valid_to=in_(days=5))
    url = f"{TOKENS}/{token['id']}"
    cases = [
        ({"valid_to": in_(minutes=-1)}, "valid_to"),
        ({"valid_from": in_(minutes=-6)}, "valid_from"),
        ({"valid_from": in_(days=6)}, "valid_to"),
        ({"valid_from": in_(days=2), "valid_to": in_(days=1)}, "valid_to"),
        ({"valid_to": "2099-01-01T00:00:00"}, "valid_to"),
    ]
    for change, field in cases:
        await problem(await client.patch(url, json=change, headers=ADMIN), 422, field)
    assert await _get(client, token["id"]) == token | {"last_used_at": None}
    ok = await client.patch(url, json={"valid_from": in_(minutes=-2)}, headers=ADMIN)
    assert ok.status == 200, await ok.text()


@pytest.mark.usefixtures("scoped")
async def test_patch_to_a_used_guid_is_409(client: Client, make_token: MakeToken) -> None:
    first = await make_token(name="First", scopes=["ops"])
    second = await make_token(name="Second", scopes=["ops"])
    response = await client.patch(
        f"{TOKENS}/{second['id']}", json={"guid": first["guid"]}, headers=ADMIN
    )
    await problem(response, 409)
    assert (await _get(client, second["id"]))["guid"] == second["guid"]


@pytest.mark.usefixtures("scoped")
async def test_revoked_token_only_takes_name_and_description(
    client: Client, make_token: MakeToken
) -> None:
    token = await make_token(name="Revoked", scopes=["ops"])
    url = f"{TOKENS}/{token['id']}"
    assert (await client.post(f"{url}/revoke", headers=ADMIN)).status == 200
    renamed = await client.patch(
        url, json={"name": "Was revoked", "description": "why"}, headers=ADMIN
    )
    assert renamed.status == 200
    assert (await renamed.json())["status"] == "revoked"
    for change in (
        {"valid_to": None},
        {"valid_to": in_(days=1)},
        {"valid_from": in_(days=1)},
        {"scopes": ["analytics"]},
        {"guid": str(uuid.uuid4())},
        {"name": "Both", "valid_to": None},
    ):
        await problem(await client.patch(url, json=change, headers=ADMIN), 409)
    await problem(await client.post(f"{url}/regenerate", headers=ADMIN), 409)
    final = await _get(client, token["id"])
    assert final["name"] == "Was revoked" and final["status"] == "revoked"


# ---- revoke and regenerate -------------------------------------------------------------------


@pytest.mark.usefixtures("scoped")
async def test_revoke_ends_the_token_now(client: Client, make_token: MakeToken) -> None:
    token = await make_token(name="Revoke me", scopes=["ops"], valid_to=in_(days=1))
    url = f"{TOKENS}/{token['id']}/revoke"
    await problem(await client.post(url, headers={**ADMIN, "If-Match": '"2"'}), 412)
    before = now()
    response = await client.post(url, headers={**ADMIN, "If-Match": '"1"'})
    after = now()
    assert response.status == 200
    revoked = await response.json()
    assert response.headers["ETag"] == '"2"'
    assert revoked["status"] == "revoked" and revoked["is_active"] is False
    assert revoked["revoked_by"] == "admin" and revoked["version"] == 2
    assert revoked["valid_to"] == revoked["revoked_at"]
    assert before - timedelta(seconds=1) <= parse(revoked["revoked_at"]) <= after
    await problem(await client.post(url, headers=ADMIN), 409)
    assert (await _verify(client, token["guid"]))["status"] == "revoked"


@pytest.mark.usefixtures("lifecycle")
async def test_revoking_an_inactive_token_is_409(
    client: Client, lifecycle: dict[str, dict[str, Any]]
) -> None:
    for key in ("scheduled", "expired", "revoked"):
        token = lifecycle[key]
        await problem(await client.post(f"{TOKENS}/{token['id']}/revoke", headers=ADMIN), 409)
        assert await _get(client, token["id"]) == token


@pytest.mark.usefixtures("scoped")
async def test_regenerate_replaces_the_guid(client: Client, make_token: MakeToken) -> None:
    token = await make_token(name="Rotate", scopes=["ops"])
    url = f"{TOKENS}/{token['id']}/regenerate"
    await problem(await client.post(url, headers={**ADMIN, "If-Match": '"5"'}), 412)
    response = await client.post(url, headers={**ADMIN, "If-Match": '"1"'})
    assert response.status == 200
    rotated = await response.json()
    assert rotated["guid"] != token["guid"]
    assert uuid.UUID(rotated["guid"]).version == 4
    assert rotated["version"] == 2 and response.headers["ETag"] == '"2"'
    assert (await _verify(client, token["guid"]))["status"] == "not_found"
    assert (await _verify(client, rotated["guid"]))["status"] == "active"


# ---- verify ----------------------------------------------------------------------------------


async def test_verify_answers_each_status(
    client: Client, lifecycle: dict[str, dict[str, Any]]
) -> None:
    active = await _verify(client, lifecycle["active"]["guid"])
    assert active == {
        "valid": True,
        "status": "active",
        "token": {
            "id": lifecycle["active"]["id"],
            "name": "A active",
            "scopes": ["ops"],
            "valid_to": None,
        },
        "superseded": False,
        "superseded_until": None,
    }
    for key in ("scheduled", "expired", "revoked"):
        answer = await _verify(client, lifecycle[key]["guid"])
        assert answer["valid"] is False and answer["status"] == key
        assert answer.get("token") is None
    upper = await _verify(client, lifecycle["active"]["guid"].upper())
    assert upper["status"] == "active"


@pytest.mark.usefixtures("scoped")
async def test_verify_scopes_precedence(
    client: Client, make_token: MakeToken, raw_db: RawDb
) -> None:
    token = await make_token(name="Two scopes", scopes=["analytics", "ops"])
    assert (await _verify(client, token["guid"], ["analytics"]))["status"] == "active"
    assert (await _verify(client, token["guid"], ["analytics", "ops"]))["status"] == "active"
    assert (await _verify(client, token["guid"], ["billing"]))["status"] == "insufficient_scope"
    assert (await _verify(client, token["guid"], ["ops", "billing"]))["valid"] is False
    await expire(client, raw_db, token["id"])
    assert (await _verify(client, token["guid"], ["billing"]))["status"] == "expired"


@pytest.mark.usefixtures("scoped")
@pytest.mark.parametrize(
    "guid",
    [
        "",
        "not a guid",
        "3f2b8c1e9a474c1d8f0e2b6a5d7c9e10",
        "{3f2b8c1e-9a47-4c1d-8f0e-2b6a5d7c9e10}",
        "3f2b8c1e-9a47-4c1d-8f0e",
        "$where",
        ".*",
        # A fixed id: parallel workers must collect the same tests.
        pytest.param(str(uuid.uuid4()), id="random-uuid4"),
    ],
)
async def test_verify_of_no_token_is_not_found(client: Client, guid: str) -> None:
    assert await _verify(client, guid) == {
        "valid": False,
        "status": "not_found",
        "token": None,
        "superseded": False,
        "superseded_until": None,
    }


@pytest.mark.usefixtures("scoped")
async def test_verify_outside_the_callers_scopes_is_not_found(
    client: Client, make_token: MakeToken, make_user: Callable[..., Awaitable[dict[str, str]]]
) -> None:
    token = await make_token(name="Billing only", scopes=["billing"])
    alice = await make_user("alice", ["ops"])
    response = await client.post(f"{TOKENS}/verify", json={"guid": token["guid"]}, headers=alice)
    assert (await response.json())["status"] == "not_found"
    await client.post(f"{TOKENS}/{token['id']}/revoke", headers=ADMIN)
    response = await client.post(f"{TOKENS}/verify", json={"guid": token["guid"]}, headers=alice)
    assert (await response.json())["status"] == "not_found"


@pytest.mark.usefixtures("scoped")
async def test_verify_records_last_used_at_most_once_a_minute(
    client: Client, make_token: MakeToken, raw_db: RawDb
) -> None:
    token = await make_token(name="Used", scopes=["ops"])
    before = now()
    await _verify(client, token["guid"])
    first = await _get(client, token["id"])
    assert first["last_used_at"] is not None
    assert parse(first["last_used_at"]) >= before - timedelta(seconds=1)
    assert first["version"] == 1 and first["updated_at"] == token["updated_at"]
    for _ in range(3):
        await _verify(client, token["guid"])
    assert (await _get(client, token["id"]))["last_used_at"] == first["last_used_at"]
    # The uses are written in one batch (every few seconds), the first use of the minute.
    last_use = client.app[REPOSITORY].tokens.last_use
    assert await last_use.flush() == 1
    stored = raw_db["tokens"].find_one({"_id": ObjectId(token["id"])})
    assert stored is not None and stored["last_used_at"] == parse(first["last_used_at"])
    assert stored["version"] == 1 and await last_use.flush() == 0
    # A minute later, a use is noted anew; an earlier one never moves it back.
    later = parse(first["last_used_at"]) + timedelta(minutes=1, seconds=1)
    last_use.note(token["id"], None, later)
    last_use.note(token["id"], None, later + timedelta(seconds=30))
    assert await last_use.flush() == 1
    written = raw_db["tokens"].find_one({"_id": ObjectId(token["id"])})
    assert written is not None and written["last_used_at"] == later
    last_use.note(token["id"], None, later + timedelta(minutes=5))
    raw_db["tokens"].update_one(
        {"_id": ObjectId(token["id"])}, {"$set": {"last_used_at": later + timedelta(hours=1)}}
    )
    await last_use.flush()
    newest = raw_db["tokens"].find_one({"_id": ObjectId(token["id"])})
    assert newest is not None and newest["last_used_at"] == later + timedelta(hours=1)


@pytest.mark.usefixtures("scoped")
async def test_failed_verify_records_no_use(client: Client, make_token: MakeToken) -> None:
    token = await make_token(name="Unused", scopes=["ops"], valid_from=in_(days=1))
    await _verify(client, token["guid"])
    active = await make_token(name="Wrong scope", scopes=["ops"])
    await _verify(client, active["guid"], ["billing"])
    assert (await _get(client, token["id"]))["last_used_at"] is None
    assert (await _get(client, active["id"]))["last_used_at"] is None


@pytest.mark.usefixtures("scoped")
async def test_expires_within_lists_active_tokens_ending_that_soon(
    client: Client, make_token: MakeToken
) -> None:
    await make_token(name="Soon", scopes=["ops"], valid_to=in_(days=2))
    await make_token(name="Later", scopes=["ops"], valid_to=in_(days=10))
    await make_token(name="Never", scopes=["ops"])
    await make_token(name="Not yet", scopes=["ops"], valid_from=in_(days=1), valid_to=in_(days=2))
    revoked = await make_token(name="Revoked", scopes=["ops"], valid_to=in_(days=1))
    assert (await client.post(f"{TOKENS}/{revoked['id']}/revoke", headers=ADMIN)).status == 200

    assert await _names(client, "expires_within=3") == ["Soon"]
    assert await _names(client, "expires_within=30") == ["Later", "Soon"]
    assert await _names(client, "expires_within=0") == []
    assert await _names(client, "expires_within=30&status=inactive") == []
    for bad in ("-1", "1e3", "3651", "two"):
        await problem(await client.get(f"{TOKENS}?expires_within={bad}", headers=ADMIN), 422,
                      "expires_within")  # fmt: skip


@pytest.mark.usefixtures("scoped")
async def test_unused_for_lists_tokens_never_used_or_not_lately(
    client: Client, make_token: MakeToken, raw_db: RawDb
) -> None:
    await make_token(name="Never used", scopes=["ops"])
    used_now = await make_token(name="Used now", scopes=["ops"])
    assert (await _verify(client, used_now["guid"]))["valid"] is True
    await client.app[REPOSITORY].tokens.last_use.flush()  # as it does every few seconds
    long_ago = await make_token(name="Used long ago", scopes=["ops"])
    await set_raw(client, raw_db, long_ago["id"], last_used_at=now() - timedelta(days=10))

    assert await _names(client, "unused_for=5") == ["Never used", "Used long ago"]
    assert await _names(client, "unused_for=30") == ["Never used"]
    assert await _names(client, "unused_for=5&expires_within=30") == []
    await problem(await client.get(f"{TOKENS}?unused_for=-2", headers=ADMIN), 422, "unused_for")
