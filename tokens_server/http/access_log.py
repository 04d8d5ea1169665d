"""An access log that never records a secret: query values are masked, headers are not logged."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

LOGGER = "tokens.access"
# Hyphens optional: the 32 hex digits alone are the whole secret, and UUID parsers accept them.
_GUID = re.compile(
    r"([0-9a-fA-F]{8})-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)


# What a path segment or query key legitimately holds: a user or scope name, a token id, a word.
_NAME_OR_ID = re.compile(r"[a-z0-9][a-z0-9._:-]{0,63}")
_LONG, _VERY_LONG = 16, 32


def _word(text: str) -> str:
    """Cut short what may be an API key pasted in the wrong place: a long segment that cannot
    be a name, or any very long one (a configured admin key may look like a name)."""
    if len(text) < _LONG:
        return text
    if len(text) >= _VERY_LONG or text.startswith("tk_") or not _NAME_OR_ID.fullmatch(text):
        return text[:3] + "…"
    return text


def redacted_target(request: web.BaseRequest) -> str:
    """The path with GUIDs and key-like segments cut short, every query value replaced by ``…``."""
    segments = request.path.split("/")
    # A GUID (32 hex digits, no slash) lies within one segment of 32 characters or more.
    if any(len(segment) >= _VERY_LONG for segment in segments):
        segments = _GUID.sub(r"\1-…", request.path).split("/")
    path = "/".join([_word(segment) for segment in segments])
    if not request.query:
        return path
    return path + "?" + "&".join(f"{_word(_GUID.sub('…', key))}=…" for key in request.query)


class RedactingAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %d %.1fms',
            request.remote,
            request.method,
            redacted_target(request),
            response.status,
            time * 1000,
        )
