"""One place turns every error into application/problem+json; nothing else leaks a trace."""

from __future__ import annotations

import json
import logging

from aiohttp import web
from aiohttp.typedefs import Handler
from pymongo.errors import ConnectionFailure, PyMongoError

from .access_log import redacted_target
from .errors import ApiError, NotFound, Unavailable

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem_response(error: ApiError) -> web.Response:
    return web.Response(
        status=error.status,
        text=json.dumps(error.to_problem()),
        content_type=PROBLEM_JSON,
        headers=error.headers,
    )


def _from_http(error: web.HTTPException) -> web.Response:
    problem = ApiError(error.reason)
    problem.status, problem.title = error.status, error.reason
    problem.slug = error.reason.lower().replace(" ", "-")
    if isinstance(error, web.HTTPMethodNotAllowed):
        problem.detail = (
            f"{error.method} is not allowed here; use {', '.join(sorted(error.allowed_methods))}"
        )
        problem.headers["Allow"] = ",".join(sorted(error.allowed_methods))
    elif isinstance(error, web.HTTPNotFound):
        problem = NotFound("there is nothing at this address")
    elif error.text and not error.text.startswith(f"{error.status}:"):
        problem.detail = error.text
    return problem_response(problem)


def _is_unavailable(error: PyMongoError) -> bool:
    return isinstance(error, ConnectionFailure) or error.timeout


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        return problem_response(error)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return _from_http(error)
    except PyMongoError as error:
        if _is_unavailable(error):
            log.warning("database unavailable: %s", type(error).__name__)
            return problem_response(Unavailable("the database did not answer; try again shortly"))
        log.exception("database error on %s %s", request.method, redacted_target(request))
        return problem_response(ApiError("the server failed; the error was logged"))
    except Exception:
        log.exception("unexpected error on %s %s", request.method, redacted_target(request))
        return problem_response(ApiError("the server failed; the error was logged"))
