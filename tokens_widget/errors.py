"""The one exception the client raises, and how the widget says it in plain words."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldProblem:
    """One invalid field named by a 422 answer."""

    field: str
    message: str


class ApiError(Exception):
    """The server refused a call, or could not be reached (``status`` 0).

    Carries the RFC 9457 problem details the server answered with.
    """

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        errors: tuple[FieldProblem, ...] = (),
        type: str = "about:blank",
    ) -> None:
        super().__init__(f"{status} {title}: {detail}" if detail else f"{status} {title}")
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        self.type = type

    @classmethod
    def from_problem(cls, status: int, body: Any, reason: str = "") -> ApiError:
        """Build from a problem+json body; tolerate any other body (a proxy's HTML page)."""
        if not isinstance(body, Mapping):
            return cls(status, reason or "HTTP error", str(body or "")[:300])
        raw_errors = body.get("errors") or []
        errors = tuple(
            FieldProblem(str(e.get("field", "")), str(e.get("message", "")))
            for e in raw_errors
            if isinstance(e, Mapping)
        )
        return cls(
            status=int(body.get("status") or status),
            title=str(body.get("title") or reason or "HTTP error"),
            detail=str(body.get("detail") or ""),
            errors=errors,
            type=str(body.get("type") or "about:blank"),
        )


_FIELD_LABELS = {
    "name": "Name",
    "scopes": "Scopes",
    "guid": "GUID",
    "description": "Description",
    "valid_from": "Valid from",
    "valid_to": "Valid to",
}


def plain_words(error: ApiError) -> str:
    """What went wrong, for the person in front of the widget rather than for a developer."""
    status = error.status
    if status == 0:
        return f"Cannot reach the Tokens server ({error.detail}). Is it running?"
    if status == 401:
        return "The server did not accept your API key. Check TOKENS_API_KEY and try again."
    if status == 403:
        return "You do not hold every scope of this token, so you cannot change it."
    if status == 404:
        return "This token no longer exists; someone may have deleted it. The list was refreshed."
    if status == 409:
        return f"That cannot be done: {(error.detail or error.title).rstrip('.')}."
    if status == 412:
        return (
            "Someone else changed this token while you were looking at it. "
            "The list was refreshed; open the token again to see their changes."
        )
    if status == 422:
        if error.errors:
            parts = [f"{_FIELD_LABELS.get(e.field, e.field)}: {e.message}" for e in error.errors]
            return "Please correct: " + "; ".join(parts) + "."
        return f"The server refused the request: {(error.detail or error.title).rstrip('.')}."
    if status == 429:
        return "Too many failed attempts. Wait a minute, then try again."
    if status == 503:
        return "The token database is not answering right now. Try again in a moment."
    if status >= 500:
        return (
            f"The server had a problem (HTTP {status}). "
            "Try again; if it persists, tell your platform team."
        )
    detail = (error.detail or error.title).rstrip(".")
    return f"The server refused the request (HTTP {status}): {detail}."
