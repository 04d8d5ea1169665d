"""Hostile strings in every field and parameter of every operation.

Operators (``{"$gt": ""}``, ``$where``, ``$regex``), pattern characters, NUL and other controls,
100k characters, invalid UTF-8 and unicode oddities go into each body field, each query parameter,
each path variable and the headers we read. Every answer is a 4xx, or a 2xx where the text is
legitimately allowed and then taken literally (a name ``.*`` is that name; listing ``name=.*``
finds only names containing ``.*``). Never a 5xx, and a refused request changes nothing stored.
Long because every place user text enters is listed here, side by side.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from yarl import URL

from tests.support import ADMIN, MAX_LINE
from tokens_server.domain.limits import GRACE_MAX_S
from tokens_server.http.routes import OPERATIONS
from tokens_server.http.state import REPOSITORY

Client = TestClient[Any, Any]

HOSTILE_TEXT = [
    "$where",
    "$gt",
    "this.name == this.name || '1' == '1'",
    '{"$gt": ""}',
    ".*",
    "^.*$",
    "[a-z]+",
    "(a+)+$",
    "a|b",
    "\\",
    "%",
    "_",
    "'; db.tokens.drop(); '",
    "\x00",
    "a\x00b",
    "line\nbreak",
    "\x1b[31m",
    "\x7f",
    "x" * 100_000,
    "\ud800",  # a lone surrogate: valid JSON text, not encodable as UTF-8
    "\u202eevil\u202c",
    "\ufeffBOM",
    "zero\u200bwidth",
    "e\u0301",
    "İstanbul ß ﬁ",
    "\uff46\uff55\uff4c\uff4c",  # full-width "full"
    "🔑🗝️",
    " .* ",
    "\u2028",
]
OPERATORS: list[Any] = [
    {"$gt": ""},
    {"$ne": None},
    {"$where": "sleep(100) || true"},
    {"$regex": ".*"},
    {"$in": ["analytics"]},
    ["$where"],
    12,
    "TRUE",
]
HOSTILE_VALUES: list[Any] = [*HOSTILE_TEXT, *OPERATORS]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_counter = itertools.count()

# What verify answers for a GUID no token has.
_NOT_FOUND = {
    "valid": False,
    "status": "not_found",
    "token": None,
    "superseded": False,
    "superseded_until": None,
}


def _quoted(value: str) -> str:
    """%-encoded UTF-8; a lone surrogate goes out as the (invalid) bytes it would have been."""
    return quote(value, safe="", errors="surrogatepass")


def _valid_text(value: Any, limit: int, control: re.Pattern[str], trimmed: bool) -> bool:
    if not isinstance(value, str) or control.search(value) or _SURROGATE.search(value):
        return False
    text = value.strip() if trimmed else value
    return len(text) <= limit and (bool(text) or not trimmed)


def _name_ok(value: Any) -> bool:
    # Names also refuse invisible and text-reordering characters (Unicode categories C*, Zl, Zp)
    # and need one visible character (a letter, number, punctuation or symbol).
    if not _valid_text(value, 200, _CONTROL, trimmed=True):
        return False
    categories = {unicodedata.category(c) for c in value.strip()}
    hidden = any(c[0] == "C" or c in ("Zl", "Zp") for c in categories)
    return not hidden and any(c[0] in "LNPS" for c in categories)


def _description_ok(value: Any) -> bool:
    return _valid_text(value, 2000, _CONTROL_BUT_LINES, trimmed=False)


# (operation, field) -> when a hostile value is legitimately accepted. Any other pair refuses all.
LEGIT: dict[tuple[str, str], Callable[[Any], bool]] = {
    ("create_token", "name"): _name_ok,
    ("create_token", "description"): _description_ok,
    ("patch_token", "name"): _name_ok,
    ("patch_token", "description"): _description_ok,
    ("create_scope", "description"): _description_ok,
    # Any text up to 100 characters is a fair question; the answer is "not_found".
    ("verify_token", "guid"): lambda v: (
        isinstance(v, str) and len(v) <= 100 and not _SURROGATE.search(v)
    ),
    # A whole number of seconds within the bound is a grace like any other.
    ("regenerate_token", "grace"): lambda v: (
        type(v) is int and 0 <= v <= GRACE_MAX_S  # bool is an int, but not a grace
    ),
}


def _base_body(operation_id: str) -> dict[str, Any]:
    """A valid body for each operation that takes one; unique names so retries never collide."""
    n = next(_counter)
    bodies: dict[str, dict[str, Any]] = {
        "create_token": {"name": f"Base {n}", "scopes": ["analytics"], "description": ""},
        "patch_token": {"name": f"Patched {n}", "description": "", "scopes": ["analytics"]},
        "verify_token": {"guid": "3f2b8c1e-9a47-4c1d-8f0e-2b6a5d7c9e10", "scopes": []},
        "regenerate_token": {"grace": 0},
        "create_scope": {"name": f"extra-{n}", "description": ""},
        "create_user": {"name": f"user-{n}", "scopes": ["analytics"], "admin": False},
        "patch_user": {"scopes": ["analytics"], "admin": False},
        # An id no token has: the base request changes nothing.
        "bulk_revoke": {"ids": ["0123456789abcdef01234567"]},
        "bulk_delete": {"ids": ["0123456789abcdef01234567"]},
    }
    return bodies[operation_id]


BODY_OPERATIONS = [op for op in OPERATIONS if op.body is not None]
LIST_TOKENS = next(op.query for op in OPERATIONS if op.operation_id == "list_tokens")
assert LIST_TOKENS is not None


def _body_slots() -> list[Any]:
    """(operation, field) for every body field, plus list items: ``scopes[]``."""
    slots = []
    for op in BODY_OPERATIONS:
        assert op.body is not None
        for name, info in op.body.model_fields.items():
            slots.append(pytest.param(op, name, id=f"{op.operation_id}.{name}"))
            if "list" in str(info.annotation):
                slots.append(pytest.param(op, f"{name}[]", id=f"{op.operation_id}.{name}[]"))
    return slots


def test_every_body_operation_has_a_base_body() -> None:
    for op in BODY_OPERATIONS:
        body = _base_body(op.operation_id)
        assert op.body is not None
        assert set(body) <= set(op.body.model_fields), op.operation_id


class World:
    """Seeded data, the paths to address it, and a snapshot of everything stored."""

    def __init__(self, client: Client, token_ids: list[str], names: dict[str, str]) -> None:
        self.client = client
        self.token_ids = token_ids
        self.names = names

    def path(self, template: str) -> str:
        values = {"token_id": self.token_ids[0], "name": "alice"}
        if template.startswith("/api/v1/scopes/"):
            values["name"] = "spare"
        return re.sub(r"{(\w+)(?::[^/]+)?}", lambda m: values[m[1]], template)

    async def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        db = self.client.app[REPOSITORY].db
        return {
            name: await db[name].find().sort("_id", 1).to_list(None)
            for name in ("tokens", "users", "scopes")
        }


NAMES = [
    "Nightly ETL",
    "Regex .* literal",
    "Dollar $where token",
    "Pipe a|b and [a-z]+",
    "Backslash \\ and percent %",
    "İstanbul ß ﬁ",
    "plain",
]


@pytest.fixture
async def world(
    client: Client,
    make_scope: Callable[..., Awaitable[str]],
    make_user: Callable[..., Awaitable[dict[str, str]]],
    make_token: Callable[..., Awaitable[dict[str, Any]]],
) -> World:
    for scope in ("analytics", "ops", "spare"):
        await make_scope(scope)
    await make_user("alice", ["analytics"])
    tokens = [await make_token(name=name, scopes=["analytics"]) for name in NAMES]
    return World(client, [t["id"] for t in tokens], {t["id"]: t["name"] for t in tokens})


async def _answer(response: ClientResponse) -> tuple[int, str]:
    text = await response.text(errors="replace")
    assert response.status < 500, f"{response.status}: {text[:500]}"
    assert "Traceback" not in text
    too_long = len(str(response.request_info.url)) > MAX_LINE
    if response.status >= 400 and not too_long:
        assert response.content_type == "application/problem+json", text[:300]
    return response.status, text


def _with(op_id: str, field: str, value: Any) -> dict[str, Any]:
    body = _base_body(op_id)
    if field.endswith("[]"):
        body[field[:-2]] = ["analytics", value]
    else:
        body[field] = value
    return body


@pytest.mark.parametrize(("op", "field"), _body_slots())
async def test_hostile_values_in_every_body_field(world: World, op: Any, field: str) -> None:
    client = world.client
    path = world.path(op.path)
    legit = LEGIT.get((op.operation_id, field), lambda _: False)
    for value in HOSTILE_VALUES:
        before = await world.snapshot()
        body = _with(op.operation_id, field, value)
        response = await client.request(op.method, path, json=body, headers=ADMIN)
        status, text = await _answer(response)
        shown = repr(value)[:60]
        if not legit(value):
            assert 400 <= status < 500, f"{op.operation_id}.{field}={shown}: {status} {text[:200]}"
            assert await world.snapshot() == before, f"{op.operation_id}.{field}={shown} changed"
            continue
        assert status in (200, 201), f"{op.operation_id}.{field}={shown}: {status} {text[:200]}"
        answer = await response.json()
        if op.operation_id == "verify_token":
            assert answer == _NOT_FOUND
            assert await world.snapshot() == before
        elif field == "grace":  # not a field of the token: its trace is the old GUID's deadline
            assert (answer["previous_guid_until"] is not None) == (value > 0)
        else:  # stored literally: as sent, names trimmed and in NFC
            stored = unicodedata.normalize("NFC", value.strip()) if field == "name" else value
            assert answer[field] == stored


async def test_hostile_keys_in_every_body(world: World) -> None:
    for op in BODY_OPERATIONS:
        for key in ("$where", "$set", "name.$gt", "__proto__", "\x00", "scopes.0"):
            before = await world.snapshot()
            body = {**_base_body(op.operation_id), key: {"$gt": ""}}
            response = await world.client.request(
                op.method, world.path(op.path), json=body, headers=ADMIN
            )
            status, text = await _answer(response)
            assert status == 422, f"{op.operation_id} {key!r}: {status} {text[:200]}"
            assert await world.snapshot() == before


INVALID_UTF8 = [b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80", b"abc\xf5def"]


async def test_invalid_utf8_in_every_body_is_400(world: World) -> None:
    headers = {**ADMIN, "Content-Type": "application/json"}
    before = await world.snapshot()
    for op in BODY_OPERATIONS:
        for bad in INVALID_UTF8:
            field = next(iter(_base_body(op.operation_id)))
            data = b'{"' + field.encode() + b'": "' + bad + b'"}'
            response = await world.client.request(
                op.method, world.path(op.path), data=data, headers=headers
            )
            status, text = await _answer(response)
            assert status == 400, f"{op.operation_id} {bad!r}: {status} {text[:200]}"
    assert await world.snapshot() == before


def _literal_matches(world: World, text: str) -> set[str]:
    words = text.casefold().split()
    return {i for i, name in world.names.items() if all(w in name.casefold() for w in words)}


async def _listed(world: World, query: str) -> tuple[int, set[str]]:
    url = URL(f"/api/v1/tokens?{query}&limit=200", encoded=True)
    response = await world.client.get(url, headers=ADMIN)
    status, _ = await _answer(response)
    ids = {t["id"] for t in (await response.json())["items"]} if status == 200 else set()
    return status, ids


async def test_hostile_text_in_name_filter_is_literal(world: World) -> None:
    for value in HOSTILE_TEXT:
        status, ids = await _listed(world, f"name={_quoted(value)}")
        if _valid_text(value, 200, _CONTROL, trimmed=False):
            assert status == 200, repr(value)[:60]
            assert ids == _literal_matches(world, value), repr(value)[:60]
        else:
            assert 400 <= status < 500, repr(value)[:60]
    # The pattern-looking names find exactly the tokens that contain them as text.
    assert (await _listed(world, "name=.*"))[1] == {world.token_ids[1]}
    assert (await _listed(world, "name=%24where"))[1] == {world.token_ids[2]}
    assert (await _listed(world, "name=a%7Cb"))[1] == {world.token_ids[3]}


async def test_hostile_text_in_every_other_query_parameter(world: World) -> None:
    for parameter in LIST_TOKENS.model_fields:
        if parameter == "name":
            continue
        for value in HOSTILE_TEXT:
            status, ids = await _listed(world, f"{parameter}={_quoted(value)}")
            shown = f"{parameter}={value!r}"[:70]
            if parameter == "guid" and status == 200:
                # A GUID prefix is text too: no GUID starts with any of these.
                assert 4 <= len(value) <= 36 and ids == set(), shown
            else:
                assert 400 <= status < 500, f"{shown}: {status}"


async def test_operator_shaped_query_keys_are_refused(world: World) -> None:
    for query in (
        "name[$gt]=",
        "name[$regex]=.*",
        "guid[$ne]=x",
        "scope[$in]=analytics",
        "$where=1",
        "limit[$gt]=0",
        "%00=1",
    ):
        status, _ = await _listed(world, query)
        assert status == 422, query


QUERY_OPERATIONS = [op for op in OPERATIONS if op.query is not None]


@pytest.mark.parametrize("op", QUERY_OPERATIONS, ids=lambda op: op.operation_id)
async def test_invalid_utf8_percent_encoded_in_the_query(world: World, op: Any) -> None:
    # The other operations refuse any query parameter as unknown.
    assert op.query is not None
    path = re.sub(r"{\w+(?::[^/]+)?}", "0" * 24, op.path)
    for parameter in op.query.model_fields:
        for bad in ("%FF%FE", "%C0%AF", "%ED%A0%80", "%80", "abc%F5def"):
            for query in (f"{parameter}={bad}", f"{parameter}{bad}=1"):
                url = URL(f"{path}?{query}", encoded=True)
                status, _ = await _answer(await world.client.get(url, headers=ADMIN))
                assert status == 422, f"{op.operation_id} {query}"


PATH_OPERATIONS = [op for op in OPERATIONS if "{" in op.path]
# Paths served without a variable, by method: a client resolves dot segments before it sends
# (RFC 3986, as curl and browsers do), so "/tokens/../usage" is asked as "/usage".
PLAIN_PATHS = {(op.method, op.path) for op in OPERATIONS if "{" not in op.path}


@pytest.mark.parametrize("op", PATH_OPERATIONS, ids=lambda op: op.operation_id)
async def test_hostile_text_in_every_path_variable(world: World, op: Any) -> None:
    before = await world.snapshot()
    for value in [*HOSTILE_TEXT, "admin/../alice", "..", "%2e%2e", "ALICE"]:
        path = re.sub(r"{\w+(?::[^/]+)?}", _quoted(value), op.path)
        body = _base_body(op.operation_id) if op.body is not None else None
        response = await world.client.request(
            op.method, URL(path, encoded=True), json=body, headers=ADMIN
        )
        status, text = await _answer(response)
        sent = URL("http://server").join(URL(path, encoded=True)).path
        if (op.method, sent) in PLAIN_PATHS and op.method == "GET":
            # The value never reached the server: it asked for another read, answered as such.
            assert status == 200, f"{op.operation_id} {value!r:.60} as {sent}: {status}"
            continue
        assert 400 <= status < 500, f"{op.operation_id} {value!r:.60}: {status} {text[:200]}"
    assert await world.snapshot() == before


HEADER_VALUES = ['{"$gt": ""}', "$where", ".*", "*", '"1" OR 1=1', 'W/"1", "2"', "x" * 8000]


async def test_hostile_if_match_and_authorization(world: World) -> None:
    before = await world.snapshot()
    for op in OPERATIONS:
        if not op.if_match:
            continue
        body = _base_body(op.operation_id) if op.body is not None else None
        for value in HEADER_VALUES:
            response = await world.client.request(
                op.method, world.path(op.path), json=body, headers={**ADMIN, "If-Match": value}
            )
            status, _ = await _answer(response)
            assert 400 <= status < 500, f"{op.operation_id} If-Match {value[:40]!r}: {status}"
    for op in OPERATIONS:
        if op.public:
            continue
        for value in HEADER_VALUES:
            body = _base_body(op.operation_id) if op.body is not None else None
            response = await world.client.request(
                op.method,
                world.path(op.path),
                json=body,
                headers={"Authorization": f"Bearer {value}"},
            )
            status, _ = await _answer(response)
            assert status in (401, 429), f"{op.operation_id} key {value[:40]!r}: {status}"
    assert await world.snapshot() == before
