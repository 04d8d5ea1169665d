"""A bound on the requests served at once. Past it a request is answered 503 with Retry-After
at once, instead of queueing for the database until its timeout (1,000 concurrent requests
gave 125 slow 503s while /health said ok). /health and /openapi.json are not counted: health
must answer while the server is saturated, and say so.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from .auth import PUBLIC_PATHS
from .errors import Overloaded
from .state import IN_FLIGHT

# The public routes (health and the document) are the ones not counted: one list, auth's.
UNCOUNTED_PATHS = PUBLIC_PATHS
RETRY_AFTER_S = 1


class InFlight:
    """How many requests are being served, against the bound (TOKENS_MAX_IN_FLIGHT)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0

    @property
    def saturated(self) -> bool:
        return self.count >= self.limit


@web.middleware
async def overload_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in UNCOUNTED_PATHS:
        return await handler(request)
    in_flight = request.app[IN_FLIGHT]
    if in_flight.saturated:
        raise Overloaded(
            f"the server is serving its limit of {in_flight.limit} requests; try again shortly",
            RETRY_AFTER_S,
        )
    in_flight.count += 1
    try:
        return await handler(request)
    finally:
        in_flight.count -= 1
