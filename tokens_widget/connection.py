"""The HTTP side of ``TokensClient``: where the server is, its session, and one JSON call."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import aiohttp

from .errors import ApiError

API_PREFIX: Final = "/api/v1"
# Where scripts and the widget find the server and their key when none is given.
URL_VARIABLE: Final = "TOKENS_URL"
API_KEY_VARIABLE: Final = "TOKENS_API_KEY"


def from_environment(
    url: str | None = None,
    api_key: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> tuple[str | None, str | None]:
    """``url`` and ``api_key``, each falling back to its environment variable when empty."""
    url = url or environ.get(URL_VARIABLE) or None
    api_key = api_key or environ.get(API_KEY_VARIABLE) or None
    return url, api_key


def api_root(url: str) -> str:
    root = url.rstrip("/")
    return root if root.endswith(API_PREFIX) else root + API_PREFIX


class Connection:
    """One server and key: sends a request, answers the parsed JSON body or raises ApiError."""

    def __init__(
        self,
        url: str,
        api_key: str | None,
        *,
        timeout: float = 30.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.url = api_root(url)
        self._api_key = api_key
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._owns_session = session is None

    @property
    def timeout(self) -> float:
        """Seconds a call may take, unless it says otherwise."""
        return self._timeout.total or 0.0

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()

    def _get_session(self) -> aiohttp.ClientSession:
        # Made on first use so the session belongs to the loop that actually calls it.
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._owns_session = True
        return self._session

    def _headers(self, accept: str, auth: bool) -> dict[str, str]:
        headers = {"Accept": accept}
        if auth and self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: list[tuple[str, str]] | None = None,
        if_match: int | None = None,
        auth: bool = True,
        time_limit: float | None = None,
    ) -> Any:
        """``time_limit``: this call's own, in seconds, when it may take longer than the
        connection's."""
        headers = self._headers("application/json", auth)
        if if_match is not None:
            headers["If-Match"] = f'"{if_match}"'
        # Only a limit of its own is passed: aiohttp reads ``timeout=None`` as no limit at all.
        own: dict[str, Any] = {}
        if time_limit is not None:
            own["timeout"] = aiohttp.ClientTimeout(total=time_limit)
        try:
            async with self._get_session().request(
                method, self.url + path, json=json, params=params, headers=headers, **own
            ) as response:
                if response.status == 204:
                    return None
                body: Any
                if "json" in (response.content_type or ""):
                    body = await response.json(content_type=None)
                else:
                    body = await response.text()
                if response.status >= 400:
                    raise ApiError.from_problem(response.status, body, response.reason or "")
                return body
        except aiohttp.ClientError as exc:
            raise ApiError(0, "Connection failed", f"{self.url}: {exc}") from exc
        except TimeoutError as exc:
            raise ApiError(0, "Connection failed", f"{self.url}: no answer in time") from exc

    @contextlib.asynccontextmanager
    async def stream(
        self, path: str, *, last_event_id: int | None, silence: float
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        """A long-lived ``text/event-stream`` answer's body, as byte chunks.

        Only the connect may time out as calls do; reading has no total limit, but ``silence``
        seconds without a byte (heartbeats included) end it with a TimeoutError. A refusal
        raises ApiError; a connection that fails or drops raises aiohttp's ClientError.
        """
        headers = self._headers("text/event-stream", auth=True)
        headers["Cache-Control"] = "no-cache"
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        timeout = aiohttp.ClientTimeout(total=None, connect=self._timeout.total, sock_read=silence)
        async with self._get_session().get(
            self.url + path, headers=headers, timeout=timeout
        ) as response:
            if response.status >= 400:
                body: Any
                if "json" in (response.content_type or ""):
                    body = await response.json(content_type=None)
                else:
                    body = await response.text()
                raise ApiError.from_problem(response.status, body, response.reason or "")
            yield response.content.iter_any()
