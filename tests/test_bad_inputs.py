"""A table of bad inputs per endpoint: each gets its problem+json status, names the field, never
a 500, and leaves the stored data exactly as it was. Long because it is one table per operation.

The cases share one server and its data per worker (a server's start and the data cost more
than a case): each compares the stored data before and after itself, so a case that changed
anything still fails on its own. Failed logins are not throttled here; test_throttle is about
that.
"""

from __future__ import annotations

import dataclasses
import io
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from pymongo import MongoClient
from pymongo.database import Database

from tests.support import ADMIN, checked_app, fresh_settings, in_, problem
from tokens_server.embedded import EmbeddedDatabase
from tokens_server.settings import MAX_BODY_BYTES, Settings

Client = TestClient[Any, Any]
RawDb = Database[dict[str, Any]]

_UNSET: Any = object()
JSON_TYPE = {"Content-Type": "application/json"}
OPERATOR = {"$gt": ""}
VALID_TOKEN = {"name": "Valid", "scopes": ["analytics"]}


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    status: int
    field: str | None = None
    body: Any = _UNSET
    data: bytes | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


def token_body(**changes: Any) -> dict[str, Any]:
    """A valid create body with ``changes``; a value of _UNSET removes the field."""
    body = {**VALID_TOKEN, **changes}
    return {k: v for k, v in body.items() if v is not _UNSET}


def raw(method: str, path: str, data: bytes, status: int, **headers: str) -> Case:
    return Case(method, path, status, data=data, headers={**JSON_TYPE, **headers})


TOKENS = "/api/v1/tokens"
TOKEN = "/api/v1/tokens/{id}"
VERIFY = "/api/v1/tokens/verify"
SCOPES = "/api/v1/scopes"
USERS = "/api/v1/users"
USER = "/api/v1/users/bob"
UUID1 = str(uuid.uuid1())
# Well-formed version-4 UUIDs that no random draw would make.
GUID_ZEROS = "00000000-0000-4000-8000-000000000000"
GUID_WORDS = "deadbeef-dead-4eef-8ead-beefdeadbeef"
GUID_COUNTING = "01234567-89ab-4def-8123-456789abcdef"


def _create_token_cases() -> list[Any]:
    p = pytest.param
    c = [
        p(token_body(name=_UNSET), "name", id="missing name"),
        p(token_body(scopes=_UNSET), "scopes", id="missing scopes"),
        p(token_body(name=5), "name", id="name number"),
        p(token_body(name=None), "name", id="name null"),
        p(token_body(name=["Valid"]), "name", id="name list"),
        p(token_body(name=OPERATOR), "name", id="name operator"),
        p(token_body(name=""), "name", id="name empty"),
        p(token_body(name="   "), "name", id="name blank"),
        p(token_body(name="x" * 201), "name", id="name overlong"),
        p(token_body(name="a\x00b"), "name", id="name NUL"),
        p(token_body(name="a\nb"), "name", id="name newline"),
        p(token_body(name="a\x1bb"), "name", id="name escape"),
        p(token_body(name="a\x7fb"), "name", id="name DEL"),
        p(token_body(name="\u200b"), "name", id="name zero-width space only"),
        p(token_body(name="\u200b\u200d\u2060"), "name", id="name zero-width only"),
        p(token_body(name="invoice\u202etxt.exe"), "name", id="name bidi override"),
        p(token_body(name="a\u2066b\u2069"), "name", id="name bidi isolate"),
        p(token_body(name="\ufeffETL"), "name", id="name byte order mark"),
        p(token_body(name="a\u00adb"), "name", id="name soft hyphen"),
        p(token_body(name="a\u2028b"), "name", id="name line separator"),
        p(token_body(name="a\x85b"), "name", id="name C1 control"),
        p(token_body(name="\u3164\u3164"), "name", id="name Hangul fillers only"),
        p(token_body(name="\u0301\u0308"), "name", id="name combining marks only"),
        p(token_body(name="a\ue000"), "name", id="name private use"),
        p(token_body(name="a\U000e0001"), "name", id="name language tag"),
        p(token_body(description=5), "description", id="description number"),
        p(token_body(description="x" * 2001), "description", id="description overlong"),
        p(token_body(description="a\x00b"), "description", id="description NUL"),
        p(token_body(description=OPERATOR), "description", id="description operator"),
        p(token_body(scopes=[]), "scopes", id="scopes empty"),
        p(token_body(scopes="analytics"), "scopes", id="scopes string"),
        p(token_body(scopes=OPERATOR), "scopes", id="scopes operator"),
        p(token_body(scopes=[OPERATOR]), "scopes.0", id="scopes item operator"),
        p(token_body(scopes=[5]), "scopes.0", id="scopes item number"),
        p(token_body(scopes=["Analytics"]), "scopes.0", id="scopes item uppercase"),
        p(token_body(scopes=["analytic.*"]), "scopes.0", id="scopes item pattern"),
        p(token_body(scopes=["analytics", "analytics"]), "scopes", id="scopes duplicate"),
        p(token_body(scopes=["nosuch"]), "scopes", id="scopes unknown"),
        p(token_body(scopes=["s"] * 101), "scopes", id="scopes too many"),
        p(token_body(guid=OPERATOR), "guid", id="guid operator"),
        p(token_body(guid=5), "guid", id="guid number"),
        p(token_body(guid=""), "guid", id="guid empty"),
        p(token_body(guid="not-a-guid"), "guid", id="guid text"),
        p(token_body(guid=str(uuid.uuid4()).upper()), "guid", id="guid uppercase"),
        p(token_body(guid=UUID1), "guid", id="guid version 1"),
        p(token_body(guid=str(uuid.uuid4()).replace("-", "")), "guid", id="guid no hyphens"),
        p(token_body(guid="." * 36), "guid", id="guid pattern"),
        p(token_body(guid=GUID_ZEROS), "guid", id="guid all zeros"),
        p(token_body(guid=GUID_WORDS), "guid", id="guid deadbeef"),
        p(token_body(guid=GUID_COUNTING), "guid", id="guid counting"),
        p(token_body(valid_from=in_(days=-1)), "valid_from", id="valid_from past"),
        p(token_body(valid_from="2099-01-01T10:00:00"), "valid_from", id="valid_from naive"),
        p(token_body(valid_from="2099-01-01"), "valid_from", id="valid_from date only"),
        p(token_body(valid_from="tomorrow"), "valid_from", id="valid_from text"),
        p(token_body(valid_from=4102444800), "valid_from", id="valid_from number"),
        p(token_body(valid_from=OPERATOR), "valid_from", id="valid_from operator"),
        p(token_body(valid_from="0001-01-01T00:00:00+01:00"), "valid_from", id="valid_from year 0"),
        p(token_body(valid_to=in_(minutes=-1)), "valid_to", id="valid_to past"),
        p(token_body(valid_to="4102444800"), "valid_to", id="valid_to seconds as text"),
        p(token_body(valid_to="4102444800.5"), "valid_to", id="valid_to fraction as text"),
        p(token_body(valid_to="2099-01-01 10:00:00Z"), "valid_to", id="valid_to space for T"),
        p(token_body(valid_to="2099-01-01T10:00Z"), "valid_to", id="valid_to no seconds"),
        p(token_body(valid_to="2099-01-01T10:00:00+0100"), "valid_to", id="valid_to offset colon"),
        p(token_body(valid_from="20990101T100000Z"), "valid_from", id="valid_from basic format"),
        p(token_body(valid_to="2099-01-01T10:00:00"), "valid_to", id="valid_to naive"),
        p(token_body(valid_to="2099-13-01T10:00:00Z"), "valid_to", id="valid_to month 13"),
        p(token_body(valid_to="2099-01-01T00:00:00+25:00"), "valid_to", id="valid_to offset"),
        p(token_body(valid_to="9999-12-31T23:59:59-01:00"), "valid_to", id="valid_to year 10000"),
        p(
            token_body(valid_from=in_(days=2), valid_to=in_(days=1)),
            "valid_to",
            id="valid_to before valid_from",
        ),
        p(token_body(nmae="typo"), "nmae", id="unknown field"),
        p(token_body(**{"$where": "1"}), "$where", id="unknown operator field"),
        p(token_body(_id="6747f0c2a1b2c3d4e5f60718"), "_id", id="unknown _id"),
        p(token_body(version=7), "version", id="read-only version"),
        p(token_body(status="revoked"), "status", id="read-only status"),
        p(token_body(created_by="mallory"), "created_by", id="read-only created_by"),
    ]
    return [
        pytest.param(Case("POST", TOKENS, 422, p.values[1], body=p.values[0]), id=p.id) for p in c
    ]


def _body_cases(method: str, path: str, name: str) -> list[Any]:
    """Malformed, mistyped and oversized bodies, which every JSON endpoint refuses alike."""
    big = json.dumps({"name": "x" * (MAX_BODY_BYTES + 1)}).encode()
    cases = {
        "malformed": raw(method, path, b'{"name": ', 400),
        "empty body": raw(method, path, b"", 400),
        "single quotes": raw(method, path, b"{'name': 'x'}", 400),
        "trailing garbage": raw(method, path, b'{"name": "x"} x', 400),
        "invalid UTF-8": raw(method, path, b'{"name": "\xff\xfe"}', 400),
        "lone surrogate": raw(method, path, b'{"name": "\\ud800"}', 400),
        "deep nesting": raw(method, path, b"[" * 100_000, 400),
        "array body": Case(method, path, 422, "body", body=[]),
        "null body": Case(method, path, 422, "body", body=None),
        "text/plain": Case(method, path, 415, data=b"{}", headers={"Content-Type": "text/plain"}),
        "form": Case(
            method,
            path,
            415,
            data=b"name=x",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        "no content type": Case(method, path, 415, data=b"{}", headers={"Content-Type": ""}),
        "over 1 MiB": raw(method, path, big, 413),
    }
    return [pytest.param(case, id=f"{name} {label}") for label, case in cases.items()]


def _patch_token_cases() -> list[Any]:
    cases = {
        "name null": ({"name": None}, "name"),
        "name operator": ({"name": OPERATOR}, "name"),
        "name overlong": ({"name": "x" * 201}, "name"),
        "scopes null": ({"scopes": None}, "scopes"),
        "scopes empty": ({"scopes": []}, "scopes"),
        "scopes item operator": ({"scopes": [OPERATOR]}, "scopes.0"),
        "scopes unknown": ({"scopes": ["nosuch"]}, "scopes"),
        "description null": ({"description": None}, "description"),
        "description NUL": ({"description": "\x00"}, "description"),
        "guid null": ({"guid": None}, "guid"),
        "guid operator": ({"guid": OPERATOR}, "guid"),
        "guid uppercase": ({"guid": str(uuid.uuid4()).upper()}, "guid"),
        "guid all zeros": ({"guid": GUID_ZEROS}, "guid"),
        "guid counting": ({"guid": GUID_COUNTING}, "guid"),
        "name zero-width space only": ({"name": "\u200b"}, "name"),
        "name bidi override": ({"name": "a\u202eb"}, "name"),
        "valid_to seconds as text": ({"valid_to": "4102444800"}, "valid_to"),
        "valid_from past": ({"valid_from": in_(hours=-1)}, "valid_from"),
        "valid_from naive": ({"valid_from": "2099-01-01T00:00:00"}, "valid_from"),
        "valid_to past": ({"valid_to": in_(minutes=-1)}, "valid_to"),
        "valid_to naive": ({"valid_to": "2099-01-01T00:00:00"}, "valid_to"),
        "valid_to operator": ({"valid_to": OPERATOR}, "valid_to"),
        "unknown field": ({"nmae": "x"}, "nmae"),
        "read-only id": ({"id": "6747f0c2a1b2c3d4e5f60718"}, "id"),
        "read-only revoked_at": ({"revoked_at": None}, "revoked_at"),
        "read-only last_used_at": ({"last_used_at": in_(days=1)}, "last_used_at"),
    }
    return [
        pytest.param(Case("PATCH", TOKEN, 422, f, body=b), id=f"patch token {label}")
        for label, (b, f) in cases.items()
    ]


def _if_match_cases() -> list[Any]:
    cases = []
    # Digits str.isdigit() takes but int() does not (a 500 before), and other scripts' digits.
    unicode_digits = ('"²"', '"\u0661"', '"\uff11"', "\u0663")
    for value in ("abc", '"x"', '"-1"', '"1.0"', "9" * 19, '"1", "2"', *unicode_digits):
        for method, path in (
            ("PATCH", TOKEN),
            ("DELETE", TOKEN),
            ("POST", TOKEN + "/revoke"),
            ("POST", TOKEN + "/regenerate"),
        ):
            case = Case(
                method,
                path,
                422,
                "If-Match",
                body={"name": "Changed"} if method == "PATCH" else _UNSET,
                headers={"If-Match": value},
            )
            cases.append(pytest.param(case, id=f"{method} {path[15:]} If-Match {value}"))
    return cases


def _list_query_cases() -> list[Any]:
    cases = {
        "unknown": ("foo=1", "foo"),
        "unknown operator": ("$where=1", "$where"),
        "bracket operator": ("name[$ne]=x", "name[$ne]"),
        "repeated limit": ("limit=1&limit=2", "limit"),
        "repeated name": ("name=a&name=b", "name"),
        "repeated sort": ("sort=name&sort=-name", "sort"),
        "repeated status": ("status=active&status=inactive", "status"),
        "repeated guid": ("guid=abcd&guid=abce", "guid"),
        "guid short": ("guid=abc", "guid"),
        "guid overlong": ("guid=" + "a" * 37, "guid"),
        "name overlong": ("name=" + "a" * 201, "name"),
        "name NUL": ("name=a%00b", "name"),
        "name control": ("name=a%1bb", "name"),
        "scope pattern": ("scope=.*", "scope.0"),
        "scope uppercase": ("scope=Analytics", "scope.0"),
        "status unknown": ("status=revoked", "status"),
        "sort unknown": ("sort=guid", "sort"),
        "limit text": ("limit=ten", "limit"),
        "limit zero": ("limit=0", "limit"),
        "limit huge": ("limit=100000000000000000000000", "limit"),
        "offset negative": ("offset=-1", "offset"),
        "offset float": ("offset=0.5", "offset"),
        "limit float": ("limit=1.0", "limit"),
        "limit underscore": ("limit=1_0", "limit"),
        "limit plus": ("limit=%2B1", "limit"),
        "limit space": ("limit=%201", "limit"),
        "limit Arabic-Indic digit": ("limit=%D9%A1", "limit"),
        "limit fullwidth digit": ("limit=%EF%BC%91", "limit"),
        "offset underscore": ("offset=1_0", "offset"),
    }
    return [
        pytest.param(Case("GET", f"{TOKENS}?{q}", 422, f), id=f"list {label}")
        for label, (q, f) in cases.items()
    ]


def _verify_cases() -> list[Any]:
    cases = {
        "missing guid": ({}, "guid"),
        "guid operator": ({"guid": OPERATOR}, "guid"),
        "guid number": ({"guid": 5}, "guid"),
        "guid null": ({"guid": None}, "guid"),
        "guid overlong": ({"guid": "a" * 101}, "guid"),
        "scopes string": ({"guid": str(uuid.uuid4()), "scopes": "analytics"}, "scopes"),
        "scopes item operator": ({"guid": str(uuid.uuid4()), "scopes": [OPERATOR]}, "scopes.0"),
        "scopes item pattern": ({"guid": str(uuid.uuid4()), "scopes": ["a.*"]}, "scopes.0"),
        "unknown field": ({"guid": str(uuid.uuid4()), "scope": ["analytics"]}, "scope"),
    }
    return [
        pytest.param(Case("POST", VERIFY, 422, f, body=b), id=f"verify {label}")
        for label, (b, f) in cases.items()
    ]


def _scope_cases() -> list[Any]:
    cases = {
        "missing name": ({"description": "x"}, "name"),
        "name uppercase": ({"name": "Reports"}, "name"),
        "name leading dash": ({"name": "-reports"}, "name"),
        "name space": ({"name": "my reports"}, "name"),
        "name pattern": ({"name": ".*"}, "name"),
        "name overlong": ({"name": "a" * 65}, "name"),
        "name operator": ({"name": OPERATOR}, "name"),
        "name NUL": ({"name": "a\x00"}, "name"),
        "description overlong": ({"name": "reports", "description": "x" * 2001}, "description"),
        "description NUL": ({"name": "reports", "description": "\x00"}, "description"),
        "unknown field": ({"name": "reports", "owner": "bob"}, "owner"),
    }
    return [
        pytest.param(Case("POST", SCOPES, 422, f, body=b), id=f"scope {label}")
        for label, (b, f) in cases.items()
    ]


def _user_cases() -> list[Any]:
    create = {
        "missing name": ({"scopes": []}, "name"),
        "name uppercase": ({"name": "Carol"}, "name"),
        "name operator": ({"name": {"$ne": None}}, "name"),
        "name overlong": ({"name": "c" * 65}, "name"),
        "scopes string": ({"name": "carol", "scopes": "analytics"}, "scopes"),
        "scopes item operator": ({"name": "carol", "scopes": [OPERATOR]}, "scopes.0"),
        "scopes unknown": ({"name": "carol", "scopes": ["nosuch"]}, "scopes"),
        "scopes duplicate": ({"name": "carol", "scopes": ["analytics"] * 2}, "scopes"),
        "admin string": ({"name": "carol", "admin": "true"}, "admin"),
        "admin number": ({"name": "carol", "admin": 1}, "admin"),
        "unknown api_key": ({"name": "carol", "api_key": "chosen"}, "api_key"),
        "unknown key_hash": ({"name": "carol", "key_hash": "0" * 64}, "key_hash"),
    }
    patch = {
        "scopes null": ({"scopes": None}, "scopes"),
        "scopes unknown": ({"scopes": ["nosuch"]}, "scopes"),
        "scopes item operator": ({"scopes": [OPERATOR]}, "scopes.0"),
        "admin string": ({"admin": "yes"}, "admin"),
        "admin null": ({"admin": None}, "admin"),
        "rename": ({"name": "robert"}, "name"),
        "unknown key_hash": ({"key_hash": "0" * 64}, "key_hash"),
    }
    return [
        pytest.param(Case("POST", USERS, 422, f, body=b), id=f"create user {label}")
        for label, (b, f) in create.items()
    ] + [
        pytest.param(Case("PATCH", USER, 422, f, body=b), id=f"patch user {label}")
        for label, (b, f) in patch.items()
    ]


def _unknown_query_cases() -> list[Any]:
    """Unknown query parameters are refused everywhere, not only where there is a query."""
    targets = [
        ("GET", TOKEN, _UNSET),
        ("PATCH", TOKEN, {"name": "Changed"}),
        ("DELETE", TOKEN, _UNSET),
        ("POST", TOKEN + "/revoke", _UNSET),
        ("POST", TOKEN + "/regenerate", _UNSET),
        ("POST", TOKENS, VALID_TOKEN),
        ("POST", VERIFY, {"guid": str(uuid.uuid4())}),
        ("GET", "/api/v1/me", _UNSET),
        ("GET", SCOPES, _UNSET),
        ("POST", SCOPES, {"name": "reports"}),
        ("DELETE", SCOPES + "/ops", _UNSET),
        ("GET", USERS, _UNSET),
        ("POST", USERS, {"name": "carol"}),
        ("PATCH", USER, {"admin": True}),
        ("DELETE", USER, _UNSET),
        ("POST", USER + "/key", _UNSET),
    ]
    return [
        pytest.param(Case(m, f"{p}?dry_run=1", 422, "dry_run", body=b), id=f"{m} {p} unknown query")
        for m, p, b in targets
    ]


CASES = [
    *_create_token_cases(),
    *_body_cases("POST", TOKENS, "create token"),
    *_patch_token_cases(),
    *_body_cases("PATCH", TOKEN, "patch token"),
    *_if_match_cases(),
    *_list_query_cases(),
    *_verify_cases(),
    *_body_cases("POST", VERIFY, "verify"),
    *_scope_cases(),
    *_body_cases("POST", SCOPES, "create scope"),
    *_user_cases(),
    *_body_cases("POST", USERS, "create user"),
    *_body_cases("PATCH", USER, "patch user"),
    *_unknown_query_cases(),
]


pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def shared_settings(
    database: EmbeddedDatabase, mongo: MongoClient[dict[str, Any]], tmp_path_factory: Any
) -> Iterator[Settings]:
    settings = fresh_settings(database, tmp_path_factory.mktemp("bad_inputs"))
    yield replace(settings, auth_failure_limit=1_000_000)
    mongo.drop_database(settings.db_name)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(shared_settings: Settings) -> AsyncIterator[Client]:
    async with TestClient(TestServer(checked_app(shared_settings))) as client:
        yield client


@pytest.fixture(scope="module")
def raw_db(mongo: MongoClient[dict[str, Any]], shared_settings: Settings) -> RawDb:
    return mongo[shared_settings.db_name]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(client: Client) -> str:
    """A scope in use by a user and a token; answers the token's id."""
    for body, url in (
        ({"name": "analytics"}, SCOPES),
        ({"name": "ops"}, SCOPES),
        ({"name": "bob", "scopes": ["analytics"]}, USERS),
        (VALID_TOKEN | {"name": "Existing"}, TOKENS),
    ):
        response = await client.post(url, json=body, headers=ADMIN)
        assert response.status == 201, await response.text()
    return str((await response.json())["id"])


def snapshot(raw_db: RawDb) -> dict[str, list[dict[str, Any]]]:
    return {
        name: list(raw_db[name].find({}).sort("_id", 1)) for name in ("tokens", "users", "scopes")
    }


@pytest.mark.parametrize("case", CASES)
async def test_bad_input_is_refused_and_changes_nothing(
    client: Client, world: str, raw_db: RawDb, case: Case
) -> None:
    before = snapshot(raw_db)
    kwargs: dict[str, Any] = {"headers": {**ADMIN, **case.headers}}
    if case.data is not None:
        # A large body goes as a stream, as a client uploading it would send it.
        kwargs["data"] = io.BytesIO(case.data) if len(case.data) > 65536 else case.data
    elif case.body is not _UNSET:
        kwargs["data"] = json.dumps(case.body).encode()
        kwargs["headers"].setdefault("Content-Type", "application/json")
    if kwargs["headers"].get("Content-Type") == "":
        del kwargs["headers"]["Content-Type"]
        kwargs["skip_auto_headers"] = ["Content-Type"]
    response = await client.request(case.method, case.path.format(id=world), **kwargs)
    await problem(response, case.status, case.field)
    assert snapshot(raw_db) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", TOKENS), ("POST", TOKENS), ("GET", TOKEN), ("GET", "/api/v1/me"), ("GET", USERS)],
)
@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic YWRtaW46YWRtaW4=", "Bearer wrong", 'Bearer {"$gt": ""}'],
)
async def test_missing_or_unknown_key_is_401(
    client: Client, world: str, method: str, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await client.request(method, path.format(id=world), headers=headers, json={})
    await problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/tokens/%7B%22%24gt%22%3A%22%22%7D",
        "/api/v1/tokens/.*",
        "/api/v1/tokens/%00",
        "/api/v1/tokens/" + "f" * 300,
        "/api/v1/nothing-here",
    ],
)
async def test_strange_paths_are_404(client: Client, world: str, path: str) -> None:
    await problem(await client.get(path, headers=ADMIN), 404)


async def test_wrong_method_is_405_problem(client: Client) -> None:
    response = await client.put(TOKENS, json={}, headers=ADMIN)
    await problem(response, 405)
    assert set(response.headers["Allow"].split(",")) == {"GET", "POST"}
