"""Reading requests at the edge: JSON bodies and query strings into validated models."""

from __future__ import annotations

import functools
import re
from typing import TypeVar
from urllib.parse import unquote, unquote_to_bytes

from aiohttp import web
from aiohttp.http_exceptions import PayloadEncodingError
from pydantic import BaseModel, ValidationError

from tokens_server.domain.errors import (
    BadRequest,
    FieldError,
    Invalid,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from tokens_server.domain.limits import EVENT_ID_MAX
from tokens_server.settings import MAX_BODY_BYTES

M = TypeVar("M", bound=BaseModel)

# The same shape as openapi.IF_MATCH_PATTERN: "3", W/"3" or 3.
_IF_MATCH = re.compile(r'(?:W/)?"?([0-9]{1,18})"?')
_EVENT_ID = re.compile(r"[0-9]{1,16}")

_MESSAGES = {
    "extra_forbidden": "is not a known field",
    "missing": "is required",
    "timezone_aware": "must be a timestamp with an offset, like 2026-11-28T10:00:00Z",
}


def _field_errors(error: ValidationError, root: str) -> list[FieldError]:
    found = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or root
        if item["type"] == "value_error":  # raised by our validators: their words, unprefixed
            message = str(item.get("ctx", {}).get("error", item["msg"]))
        else:
            message = _MESSAGES.get(item["type"], item["msg"])
        found.append(FieldError(field, message))
    return found


def _invalid(errors: list[FieldError]) -> Invalid:
    summary = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return Invalid(summary, errors)


async def read_body(request: web.Request, model: type[M]) -> M:
    """Parse a JSON body: 415 unless JSON, 413 over the limit, 400 malformed, 422 invalid."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType("send the body as application/json")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body may be at most {MAX_BODY_BYTES} bytes")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(f"the body may be at most {MAX_BODY_BYTES} bytes") from None
    except (ConnectionResetError, PayloadEncodingError):
        # The client went away or cut the body short: its mistake, answered (if anyone still
        # listens) as one, not logged as a server failure with a traceback.
        raise BadRequest("the body ended before it was complete") from None
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        if any(item["type"] in ("json_invalid", "json_type") for item in error.errors()):
            raise BadRequest("the body is not valid JSON (UTF-8)") from None
        raise _invalid(_field_errors(error, "body")) from None


def _check_utf8(raw_path: str) -> None:
    """Refuse %-escapes that are not UTF-8, which the URL parser would turn into U+FFFD."""
    for pair in raw_path.partition("?")[2].split("&"):
        key, _, value = pair.partition("=")
        for part in (key, value):
            try:
                unquote_to_bytes(part).decode("utf-8")
            except UnicodeDecodeError:
                name = unquote(key, errors="replace") or "query"
                raise Invalid.field(name, "must be UTF-8 once %-decoded") from None


def refuse_query(request: web.Request) -> None:
    """Refuse every query parameter where none is defined, so a typo does not silently do
    nothing (api.md: unknown query parameters are a 422)."""
    if request.query:
        raise _invalid([FieldError(key, "is not a known query parameter") for key in request.query])


@functools.cache
def repeatable(model: type[BaseModel]) -> frozenset[str]:
    """The parameters of ``model`` that are lists: only they may be given more than once."""
    fields = model.model_json_schema()["properties"]
    return frozenset(name for name, schema in fields.items() if schema.get("type") == "array")


def read_query(request: web.Request, model: type[M]) -> M:
    """Parse query parameters; only list-valued ones may be given more than once."""
    _check_utf8(request.raw_path)
    many = repeatable(model)
    values: dict[str, str | list[str]] = {}
    errors = []
    for key in request.query:
        given = request.query.getall(key)
        if key in many:
            values[key] = given
        elif len(given) > 1:
            errors.append(FieldError(key, "may be given only once"))
        else:
            values[key] = given[0]
    if errors:
        raise _invalid(errors)
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise _invalid(_field_errors(error, "query")) from None


def if_match(request: web.Request) -> int | None:
    """The version named by an ``If-Match: "<version>"`` header, if there is one."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    # ASCII digits only: str.isdigit() also takes "²" and Arabic-Indic or fullwidth digits.
    match = _IF_MATCH.fullmatch(header.strip())
    if match is None:
        raise Invalid.field("If-Match", 'must be a version as served in ETag, like "3"')
    return int(match[1])


def last_event_id(request: web.Request) -> int | None:
    """The event id of a ``Last-Event-ID`` header, which a reconnecting stream reader sends."""
    header = (request.headers.get("Last-Event-ID") or "").strip()
    if not header:
        return None
    if _EVENT_ID.fullmatch(header) is None or int(header) > EVENT_ID_MAX:
        raise Invalid.field("Last-Event-ID", "must be an event id as the stream sent it")
    return int(header)
