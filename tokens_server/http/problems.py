"""One place turns every error into application/problem+json (RFC 9457): the table below says
which status, type and title each domain error is answered with. Nothing else leaks a trace."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

from tokens_server.domain.errors import (
    BadRequest,
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    Invalid,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    PreconditionFailed,
    StorageFailed,
    TokenLimitReached,
    TooManyRequests,
    TooManyStreams,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
)
from tokens_server.http.access_log import redacted_target

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class Kind:
    """What a client reads from a problem: its status, its type (``/problems/<slug>``), title."""

    status: int
    slug: str
    title: str


INTERNAL = Kind(500, "internal", "Internal error")
PROBLEMS: dict[type[DomainError], Kind] = {
    BadRequest: Kind(400, "malformed", "Malformed request"),
    Unauthorized: Kind(401, "unauthorized", "Not authenticated"),
    Forbidden: Kind(403, "forbidden", "Forbidden"),
    NotFound: Kind(404, "not-found", "Not found"),
    Conflict: Kind(409, "conflict", "Conflict"),
    TokenLimitReached: Kind(409, "token-limit", "Token limit reached"),
    PreconditionFailed: Kind(412, "stale", "Precondition failed"),
    PayloadTooLarge: Kind(413, "too-large", "Request body too large"),
    UnsupportedMediaType: Kind(415, "media-type", "Unsupported media type"),
    Invalid: Kind(422, "invalid", "Invalid request"),
    TooManyRequests: Kind(429, "throttled", "Too many failed attempts"),
    TooManyStreams: Kind(429, "too-many-streams", "Too many streams"),
    Unavailable: Kind(503, "unavailable", "Database unavailable"),
    Overloaded: Kind(503, "overloaded", "Server saturated"),
}
_FAILED = "the server failed; the error was logged"


def kind_of(error: DomainError) -> Kind:
    """The entry of the error's own class, else of the nearest class it derives from."""
    for cls in type(error).__mro__:
        if cls in PROBLEMS:
            return PROBLEMS[cls]
    return INTERNAL


def _headers(error: DomainError) -> dict[str, str]:
    if isinstance(error, Unauthorized):
        return {"WWW-Authenticate": 'Bearer realm="tokens"'}
    if isinstance(error, TooManyRequests | Overloaded):
        return {"Retry-After": str(error.retry_after)}
    return {}


def _response(
    kind: Kind,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    problem: dict[str, object] = {
        "type": f"/problems/{kind.slug}",
        "title": kind.title,
        "status": kind.status,
        "detail": detail,
    }
    if errors:
        problem["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    return web.Response(
        status=kind.status,
        text=json.dumps(problem),
        content_type=PROBLEM_JSON,
        headers=headers,
    )


def problem_response(error: DomainError) -> web.Response:
    return _response(kind_of(error), error.detail, error.errors, _headers(error))


def _from_http(error: web.HTTPException) -> web.Response:
    """aiohttp's own refusals (no route, wrong method), in the same shape."""
    if isinstance(error, web.HTTPNotFound):
        return problem_response(NotFound("there is nothing at this address"))
    kind = Kind(error.status, error.reason.lower().replace(" ", "-"), error.reason)
    if isinstance(error, web.HTTPMethodNotAllowed):
        allowed = sorted(error.allowed_methods)
        detail = f"{error.method} is not allowed here; use {', '.join(allowed)}"
        return _response(kind, detail, headers={"Allow": ",".join(allowed)})
    if error.text and not error.text.startswith(f"{error.status}:"):
        return _response(kind, error.text)
    return _response(kind, error.reason)


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except StorageFailed:
        log.exception("database error on %s %s", request.method, redacted_target(request))
        return _response(INTERNAL, _FAILED)
    except DomainError as error:
        return problem_response(error)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return _from_http(error)
    except Exception:
        log.exception("unexpected error on %s %s", request.method, redacted_target(request))
        return _response(INTERNAL, _FAILED)
