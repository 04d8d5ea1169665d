"""A bound on the requests served at once. Past it a request is answered 503 with Retry-After
at once, instead of queueing for the database until its timeout (1,000 concurrent requests
gave 125 slow 503s while /health said ok). Public operations are not counted (see
``operations.endpoint``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from tokens_server.domain.errors import Overloaded

RETRY_AFTER_S = 1


class InFlight:
    """How many requests are being served, against the bound (TOKENS_MAX_IN_FLIGHT)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0

    @property
    def saturated(self) -> bool:
        return self.count >= self.limit

    @contextlib.contextmanager
    def admitted(self) -> Iterator[None]:
        """Count a request as in flight while it is served; past the bound, refuse it at once."""
        if self.saturated:
            raise Overloaded(
                f"the server is serving its limit of {self.limit} requests; try again shortly",
                RETRY_AFTER_S,
            )
        self.count += 1
        try:
            yield
        finally:
            self.count -= 1
