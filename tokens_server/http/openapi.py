"""The OpenAPI 3.1 document, built from the operation table and the pydantic models."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from tokens_server import __version__
from tokens_server.domain.limits import HEARTBEAT_S, WRITE_TIMEOUT_S
from tokens_server.http.operations import Operation
from tokens_server.http.parsing import repeatable
from tokens_server.http.schemas import ProblemOut
from tokens_server.settings import MAX_BODY_BYTES

_REASONS = {
    400: "Malformed JSON",
    401: "No or unknown API key",
    403: "Not allowed for this caller",
    404: "Not visible to the caller",
    409: "Conflict",
    412: "Stale If-Match",
    413: f"Body over {MAX_BODY_BYTES} bytes",
    415: "Body is not application/json",
    422: "Invalid fields or query parameters",
    429: "Too many failed authentications, or (a stream) too many open streams of this user; "
    "see Retry-After",
    503: "Database unavailable, or the server saturated (see Retry-After)",
}
_REF = "#/components/schemas/{model}"
# What parsing.if_match accepts: a version as ETag serves it, optionally weak or unquoted.
IF_MATCH_PATTERN = r'^\s*(W/)?"?[0-9]{1,18}"?\s*$'


def _query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=_REF)
    parameters = []
    for name, prop in schema["properties"].items():
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": prop}
        if name in repeatable(model):
            parameter.update(style="form", explode=True)
        parameters.append(parameter)
    schemas.update(schema.get("$defs", {}))
    return parameters


@functools.cache
def openapi_document(operations: tuple[Operation, ...]) -> dict[str, Any]:
    """The document of ``operations`` (``routes.OPERATIONS``; the app serves it from state)."""
    models = {m for op in operations for m in (op.body, op.response) if m is not None}
    models.add(ProblemOut)
    _, top = models_json_schema(
        [
            (m, "validation" if m in {op.body for op in operations} else "serialization")
            for m in sorted(models, key=lambda m: m.__name__)
        ],
        ref_template=_REF,
    )
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        operation: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": list(op.tags),
            "parameters": [],
            "responses": {},
        }
        for name, pattern in op.path_patterns.items():
            schema: dict[str, Any] = {"type": "string"}
            if pattern is not None:
                schema["pattern"] = f"^{pattern}$"
            operation["parameters"].append(
                {"name": name, "in": "path", "required": True, "schema": schema}
            )
        if op.query is not None:
            operation["parameters"] += _query_parameters(op.query, schemas)
        if op.if_match:
            operation["parameters"].append(
                {
                    "name": "If-Match",
                    "in": "header",
                    "required": False,
                    "description": 'The version from ETag, like "3"; a stale one answers 412.',
                    "schema": {"type": "string", "pattern": IF_MATCH_PATTERN},
                }
            )
        if op.body is not None:
            operation["requestBody"] = {
                "required": not op.body_optional,
                "content": {
                    "application/json": {"schema": {"$ref": _REF.format(model=op.body.__name__)}}
                },
            }
        success: dict[str, Any] = {"description": "Success"}
        if op.stream:
            assert op.response is not None
            success["description"] = _STREAM.format(
                model=op.response.__name__, heartbeat=HEARTBEAT_S, write_timeout=WRITE_TIMEOUT_S
            )
            success["content"] = {"text/event-stream": {"schema": {"type": "string"}}}
            operation["parameters"].append(_LAST_EVENT_ID)
        elif op.response is not None:
            success["content"] = {
                "application/json": {"schema": {"$ref": _REF.format(model=op.response.__name__)}}
            }
        elif op.status != 204:
            success["content"] = {"application/json": {"schema": {"type": "object"}}}
        operation["responses"][str(op.status)] = success
        # Every operation refuses unknown query parameters (422); every authenticated one can
        # also meet a bad key, the failure throttle and an unavailable database.
        common = {422} if op.public else {401, 422, 429, 503}
        errors = tuple(sorted({*op.errors, *common}))
        for status in errors:
            operation["responses"][str(status)] = _problem(status, op.response)
        if not op.public:
            operation["security"] = [{"bearer": []}]
        paths.setdefault(op.template, {})[op.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tokens API",
            "version": __version__,
            "description": "Manage API tokens, their scopes and the users who hold them.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


_STREAM = (
    "A stream of Server-Sent Events, one per event: `id: <event id>`, `event: <action>`, "
    "`data: <{model} as JSON>`. A comment line comes when nothing else came for {heartbeat} s. "
    "A reader that falls behind gets a last `event: overflow` and should reconnect with "
    "`Last-Event-ID`. One user may hold a few streams on a server "
    "(`TOKENS_MAX_STREAMS_PER_USER`); more answer 429. A stream ends when its key stops "
    "working, or when its reader takes no write for {write_timeout} s."
)
_LAST_EVENT_ID = {
    "name": "Last-Event-ID",
    "in": "header",
    "required": False,
    "description": "Resume after this event id: every later event you may see, none twice. "
    "Without it, a stream starts after the last event committed as it opened.",
    "schema": {"type": "string", "pattern": "^[0-9]{1,16}$"},
}


def _problem(status: int, response: type[BaseModel] | None) -> dict[str, Any]:
    if status == 503 and response is not None and response.__name__ == "HealthOut":
        schema = {"$ref": _REF.format(model="HealthOut")}
        return {
            "description": _REASONS[status],
            "content": {"application/json": {"schema": schema}},
        }
    schema = {"$ref": _REF.format(model="ProblemOut")}
    return {
        "description": _REASONS[status],
        "content": {"application/problem+json": {"schema": schema}},
    }
