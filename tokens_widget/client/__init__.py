"""``TokensClient``: the one way to call the Tokens API, for the widget and for automation.

    async with TokensClient("http://127.0.0.1:8080", api_key) as tokens:
        token = await tokens.create_token("Nightly ETL", ["analytics"])

One class with one method per operation of the API, its methods written by resource: single
tokens (``tokens.py``), many at once (``bulk.py``), history and the change feed (``events.py``),
the caller, scopes and users (``accounts.py``), uses and refusals over time (``usage.py``).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import aiohttp

from ..connection import API_KEY_VARIABLE, URL_VARIABLE, Connection, from_environment
from ..models import Health
from .accounts import AccountCalls
from .bulk import BulkCalls
from .calls import UNSET
from .events import EventCalls
from .tokens import TokenCalls
from .usage import UsageCalls

__all__ = ["UNSET", "TokensClient"]


class TokensClient(TokenCalls, BulkCalls, EventCalls, AccountCalls, UsageCalls):
    """Async client for every operation of the Tokens API.

    ``url`` is the server's address (``http://host:port``, with or without ``/api/v1``).
    Every method raises :class:`ApiError` when the server refuses the call or cannot be reached.
    Close it with ``await client.close()`` or use it as ``async with``.
    """

    def __init__(
        self,
        url: str,
        api_key: str | None,
        *,
        timeout: float = 30.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(Connection(url, api_key, timeout=timeout, session=session))

    @classmethod
    def from_env(cls, *, timeout: float = 30.0) -> TokensClient:
        """A client for ``TOKENS_URL`` with the key in ``TOKENS_API_KEY``, as the widget uses."""
        url, api_key = from_environment()
        if not url or not api_key:
            raise ValueError(f"set {URL_VARIABLE} and {API_KEY_VARIABLE} to reach the server")
        return cls(url, api_key, timeout=timeout)

    @property
    def url(self) -> str:
        """The API's root, ``…/api/v1``."""
        return self._connection.url

    def __repr__(self) -> str:
        return f"TokensClient({self.url!r})"

    async def __aenter__(self) -> TokensClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._connection.close()

    # --- the service ---------------------------------------------------------------------

    async def health(self) -> Health:
        """``GET /health`` (no key needed); a 503 raises ApiError."""
        return Health.model_validate(await self._call("GET", "/health", auth=False))

    async def openapi(self) -> dict[str, Any]:
        """The server's OpenAPI document."""
        document: dict[str, Any] = await self._call("GET", "/openapi.json", auth=False)
        return document
