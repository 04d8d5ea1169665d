"""Property-based fuzzing of every operation in the served OpenAPI document.

Each operation gets at least ``FUZZ_EXAMPLES`` generated requests (valid and invalid ones) sent as
the admin to the real app on a loopback port. Every answer must be below 500 and match the
document: a declared status code, the declared content type and the declared body schema. Path
parameters are sometimes swapped for ids and names of seeded data, so requests reach real
tokens, scopes and users, not only 404s.
"""

from __future__ import annotations

import functools
import json
import os
import uuid
import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.strategies._internal import regex as hypothesis_regex
from pymongo import MongoClient

from tests.support import ADMIN, ADMIN_KEY, MAX_LINE
from tokens_server.domain.guids import random_looking
from tokens_server.embedded import EmbeddedDatabase
from tokens_server.http.openapi import openapi_document
from tokens_server.http.routes import OPERATIONS
from tokens_server.settings import Settings

from .live_server import LiveServer


def _build_each_character_class_once() -> None:
    """Hypothesis builds a pattern's character class one code point at a time, and the token
    name pattern (tokens_server/domain/names.py) spans about 280,000 of them: 2.7 s a build.
    schemathesis builds it again for every field and mode that uses it, and within every length
    bound it puts around the pattern, at collection (it makes the coverage cases then), in every
    worker. A class's strategy is a description that can be drawn from any number of times, so
    one build per class, flags and alphabet serves them all. Its private home is the only place
    to keep it: a change there fails this import, loudly."""
    build = hypothesis_regex._strategy
    built: dict[tuple[Any, ...], Any] = {}

    @functools.wraps(build)
    def build_once(codes: Any, context: Any, is_unicode: bool, *, alphabet: Any) -> Any:
        if not (isinstance(codes, tuple) and codes[0] == hypothesis_regex.sre.IN):
            return build(codes, context, is_unicode, alphabet=alphabet)
        # Alphabets are rebuilt as equal, not identical, objects.
        key = (tuple(codes[1]), int(context.flags), is_unicode, repr(alphabet))
        if key not in built:
            built[key] = build(codes, context, is_unicode, alphabet=alphabet)
        return built[key]

    hypothesis_regex._strategy = build_once


_build_each_character_class_once()


# A hundred generated requests and more for each operation.
pytestmark = pytest.mark.slow

FUZZ_EXAMPLES = int(os.environ.get("TOKENS_FUZZ_EXAMPLES", "100"))
SCOPES = ("analytics", "ops", "billing")
USERS = ("alice", "bob", "carol")


def _seed(base: str) -> dict[str, list[str]]:
    """Scopes, users and tokens in every state, so ids in paths can name real things."""
    http = requests.Session()
    http.headers.update(ADMIN)
    for scope in SCOPES:
        http.post(f"{base}/scopes", json={"name": scope}).raise_for_status()
    for i, user in enumerate(USERS):
        body = {"name": user, "scopes": list(SCOPES[: i + 1])}
        http.post(f"{base}/users", json=body).raise_for_status()
    now = datetime.now(UTC)
    ids = []
    for i in range(30):
        body: dict[str, Any] = {
            "name": f"Seeded token {i} .* $where",
            "scopes": [SCOPES[i % 3]] if i % 4 else list(SCOPES),
            "description": "seeded",
        }
        if i % 5 == 1:
            body["valid_from"] = (now + timedelta(days=2)).isoformat()
        if i % 5 == 2:
            body["valid_to"] = (now + timedelta(days=30)).isoformat()
        if i % 7 == 3:
            body["guid"] = str(uuid.uuid4())
        response = http.post(f"{base}/tokens", json=body)
        response.raise_for_status()
        ids.append(response.json()["id"])
    for i in range(0, len(ids), 6):
        if i % 5 != 1:  # a scheduled token cannot be revoked
            http.post(f"{base}/tokens/{ids[i]}/revoke").raise_for_status()
    return {"token_id": ids, "name": [*SCOPES, *USERS]}


@pytest.fixture(scope="module")
def live_server(
    database: EmbeddedDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, dict[str, list[str]]]]:
    name = f"fuzz_{uuid.uuid4().hex[:12]}"
    server = LiveServer(
        Settings(
            mongo_uri=database.uri,
            db_name=name,
            data_dir=tmp_path_factory.mktemp("fuzz"),
            admin_key=ADMIN_KEY,
            secret_key="fuzz-secret-key-for-guid-encryption",
            # The fuzzer sends wrong keys on purpose; the throttle has its own tests.
            auth_failure_limit=1_000_000,
        )
    ).start()
    try:
        _SEEDED.update(_seed(f"{server.url}/api/v1"))
        yield server, _SEEDED
    finally:
        server.stop()
        with MongoClient(database.uri, serverSelectionTimeoutMS=5000) as mongo:
            mongo.drop_database(name)


# Loaded at import from the same builder the server answers GET /openapi.json with (the test
# below holds the two equal), so pytest can make one test per operation at collection time.
schema = schemathesis.openapi.from_dict(
    openapi_document(OPERATIONS),
    config=schemathesis.Config.from_dict(
        {
            # The admin key is sent with every case; generating (or leaving out) Authorization
            # would only be undone by that and misread as "invalid request accepted".
            "generation": {"with-security-parameters": False},
            "checks": {
                # A valid request may still meet a stale If-Match (412); never a 5xx.
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "401", "403", "404", "409", "412", "429"]
                }
            },
        }
    ),
)
# Filled by the ``live_server`` fixture before any case is generated.
_SEEDED: dict[str, list[str]] = {}
# Cases sent, by operation and generation mode.
CASES_RUN: Counter[str] = Counter()


@schema.hook
def before_generate_path_parameters(context: Any, strategy: Any) -> Any:
    """Sometimes a seeded id or name instead of a generated one, so paths reach real data."""
    operation = context.operation
    known = [p.name for p in operation.path_parameters if p.name in _SEEDED] if operation else []
    if not known:
        return strategy
    real = st.fixed_dictionaries({n: st.sampled_from(_SEEDED[n]) for n in known})
    return st.one_of(strategy, real)


def test_the_served_document_is_the_fuzzed_one(
    live_server: tuple[LiveServer, dict[str, list[str]]],
) -> None:
    server, _ = live_server
    served = requests.get(f"{server.url}/api/v1/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(openapi_document(OPERATIONS)))


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
    # The same cases on every run, so CI cannot flake; change the code and the cases change.
    derandomize=True,
)
def test_every_operation_answers_as_documented(
    case: schemathesis.Case, live_server: tuple[LiveServer, dict[str, list[str]]]
) -> None:
    server, _ = live_server
    _meaningful(case)
    mode = case.meta.generation.mode.value if case.meta else "explicit"
    CASES_RUN[f"{case.operation.label} {mode}"] += 1
    if case.operation.label in _STREAMS:
        _call_stream(case, server.url)
        return
    response = case.call(base_url=server.url, headers=ADMIN, timeout=10)
    if len(response.request.path_url) > MAX_LINE:  # an invalid case: ids= past their bound
        assert response.status_code == 400, response.status_code
        return
    case.validate_response(response)


# An accepted stream never ends, so its body cannot be read to the end and checked; its status
# and content type are, and a refusal is checked like any other answer.
_STREAMS = {f"{op.method} {op.template}" for op in OPERATIONS if op.stream}


def _call_stream(case: schemathesis.Case, base_url: str) -> None:
    request = case.as_transport_kwargs(base_url=base_url, headers=ADMIN)
    with requests.request(**request, timeout=10, stream=True) as response:
        if response.status_code == 200:
            assert response.headers["Content-Type"] == "text/event-stream"
            assert next(response.iter_lines()) == b": live"
        else:
            case.validate_response(response)


def _meaningful(case: schemathesis.Case) -> None:
    """Make a valid case valid beyond what a schema can say: scopes that exist, dates ahead,
    usage windows that end after they start, GUIDs that look random (all zeros fits the
    pattern; tokens_server/guids.py refuses it).

    Without this nearly every generated create would be a 422 for an unknown scope or a past
    date, and the fuzzer would never reach the code behind those checks.
    """
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    now = datetime.now(UTC)
    if isinstance(case.query, dict):  # a usage window: from before to, within its bounds
        if "from" in case.query:
            case.query["from"] = (now - timedelta(days=1)).isoformat()
        if "to" in case.query:
            case.query["to"] = now.isoformat()
    if not isinstance(case.body, dict):
        return
    body = case.body
    if isinstance(body.get("scopes"), list) and body["scopes"]:
        picked = [SCOPES[zlib.crc32(str(s).encode()) % len(SCOPES)] for s in body["scopes"]]
        body["scopes"] = list(dict.fromkeys(picked))
    if body.get("valid_from") is not None:
        body["valid_from"] = (now + timedelta(hours=1)).isoformat()
    if body.get("valid_to") is not None:
        body["valid_to"] = (now + timedelta(days=400)).isoformat()
    if isinstance(body.get("guid"), str):
        try:
            random_looking(body["guid"])
        except ValueError:
            body["guid"] = str(uuid.uuid4())
    elif "grace" in body and case.operation.method == "PATCH":
        del body["grace"]  # dependentRequired: a grace needs a new guid, not all generators know


def test_every_operation_was_fuzzed() -> None:
    """The floor holds for every operation that takes input; the rest have few requests to send."""
    per_operation: Counter[str] = Counter()
    for key, count in CASES_RUN.items():
        per_operation[key.rsplit(" ", 1)[0]] += count
    for key in sorted(CASES_RUN):
        print(f"{CASES_RUN[key]:5d} {key}")
    print(f"{sum(CASES_RUN.values()):5d} cases in all")
    for op in OPERATIONS:
        label = f"{op.method} {op.template}"
        inputless = not (op.path_patterns or op.query or op.body or op.if_match)
        assert per_operation[label] >= (1 if inputless else FUZZ_EXAMPLES), label
