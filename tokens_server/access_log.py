"""An access log that never records a secret: query values are masked, headers are not logged."""

from __future__ import annotations

import logging
import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

log = logging.getLogger("tokens.access")
# Hyphens optional: the 32 hex digits alone are the whole secret, and UUID parsers accept them.
_GUID = re.compile(
    r"([0-9a-fA-F]{8})-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)


def redacted_target(request: web.BaseRequest) -> str:
    """The path with GUIDs cut short and every query value replaced by ``…``."""
    path = _GUID.sub(r"\1-…", request.path)
    if not request.query:
        return path
    return path + "?" + "&".join(f"{_GUID.sub('…', key)}=…" for key in request.query)


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
