"""``TokensClient``: the one way to call the Tokens API, for the widget and for automation.

    async with TokensClient("http://127.0.0.1:8080", api_key) as tokens:
        token = await tokens.create_token("Nightly ETL", ["analytics"])

Longer than most modules: one method per operation of the API, each short, in one class.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Final
from urllib.parse import quote

import aiohttp

from .connection import API_KEY_VARIABLE, URL_VARIABLE, Connection, from_environment
from .limits import DEFAULT_PAGE_SIZE, PAGE_SIZE_MAX, SortKey, StatusFilter
from .live_events import ConnectionListener, follow
from .models import (
    BulkResult,
    Event,
    EventPage,
    Health,
    Scope,
    Token,
    TokenPage,
    User,
    UserWithKey,
    Verification,
    format_time,
)


class _Unset(enum.Enum):
    UNSET = "UNSET"


#: Marks a PATCH field as "leave unchanged" (``None`` clears ``valid_to``).
UNSET: Final = _Unset.UNSET


def _seg(value: str) -> str:
    """A value as one URL path segment, so an id can never reach another route."""
    return quote(value, safe="")


def _time(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def _seconds(grace: timedelta) -> int:
    """A grace as the API takes it: whole seconds."""
    return int(grace.total_seconds())


class TokensClient:
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
        self._connection = Connection(url, api_key, timeout=timeout, session=session)
        self._call = self._connection.call

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

    # --- service -------------------------------------------------------------------------

    async def health(self) -> Health:
        """``GET /health`` (no key needed); a 503 raises ApiError."""
        return Health.model_validate(await self._call("GET", "/health", auth=False))

    async def me(self) -> User:
        """Who the API key belongs to: name, admin flag, scopes."""
        return User.model_validate(await self._call("GET", "/me"))

    async def openapi(self) -> dict[str, Any]:
        """The server's OpenAPI document."""
        document: dict[str, Any] = await self._call("GET", "/openapi.json", auth=False)
        return document

    # --- tokens --------------------------------------------------------------------------

    async def list_tokens(
        self,
        *,
        name: str | None = None,
        guid: str | None = None,
        scopes: Iterable[str] = (),
        status: StatusFilter | None = None,
        sort: SortKey = "name",
        limit: int = DEFAULT_PAGE_SIZE,
        offset: int = 0,
        expires_within: int | None = None,
        unused_for: int | None = None,
    ) -> TokenPage:
        """One page of the tokens visible to the caller, filtered and sorted by the server.
        ``expires_within``: active tokens ending within that many days; ``unused_for``:
        tokens never used, or not in that many days."""
        params: list[tuple[str, str]] = []
        if name and name.strip():
            params.append(("name", name.strip()))
        if guid and guid.strip():
            params.append(("guid", guid.strip()))
        params.extend(("scope", scope) for scope in scopes)
        if status:
            params.append(("status", status))
        if expires_within is not None:
            params.append(("expires_within", str(expires_within)))
        if unused_for is not None:
            params.append(("unused_for", str(unused_for)))
        params += [("sort", sort), ("limit", str(limit)), ("offset", str(offset))]
        return TokenPage.model_validate(await self._call("GET", "/tokens", params=params))

    async def iter_tokens(
        self,
        *,
        name: str | None = None,
        guid: str | None = None,
        scopes: Iterable[str] = (),
        status: StatusFilter | None = None,
        sort: SortKey = "name",
        page_size: int = PAGE_SIZE_MAX,
    ) -> AsyncIterator[Token]:
        """Every matching token, fetched page by page."""
        scopes = tuple(scopes)
        offset = 0
        while True:
            page = await self.list_tokens(
                name=name,
                guid=guid,
                scopes=scopes,
                status=status,
                sort=sort,
                limit=page_size,
                offset=offset,
            )
            for token in page.items:
                yield token
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return

    async def create_token(
        self,
        name: str,
        scopes: Iterable[str],
        *,
        description: str | None = None,
        guid: str | None = None,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
    ) -> Token:
        """Create a token; without ``guid`` the server makes one, without dates it never ends."""
        body: dict[str, Any] = {"name": name, "scopes": list(scopes)}
        if description is not None:
            body["description"] = description
        if guid is not None:
            body["guid"] = guid
        if valid_from is not None:
            body["valid_from"] = format_time(valid_from)
        if valid_to is not None:
            body["valid_to"] = format_time(valid_to)
        return Token.model_validate(await self._call("POST", "/tokens", json=body))

    async def get_token(self, token_id: str) -> Token:
        return Token.model_validate(await self._call("GET", f"/tokens/{_seg(token_id)}"))

    async def update_token(
        self,
        token_id: str,
        *,
        name: str | _Unset = UNSET,
        description: str | _Unset = UNSET,
        scopes: Iterable[str] | _Unset = UNSET,
        guid: str | _Unset = UNSET,
        grace: timedelta | _Unset = UNSET,
        valid_from: datetime | _Unset = UNSET,
        valid_to: datetime | _Unset | None = UNSET,
        if_match: int | None = None,
    ) -> Token:
        """Change only the fields given; ``valid_to=None`` makes the token never expire.

        With a new ``guid``, ``grace`` keeps the one it replaces working that long beside it
        (see ``regenerate_token``).

        With ``if_match`` (the version you read) the change is refused with a 412 when someone
        else changed the token since.
        """
        body: dict[str, Any] = {}
        if not isinstance(name, _Unset):
            body["name"] = name
        if not isinstance(description, _Unset):
            body["description"] = description
        if not isinstance(scopes, _Unset):
            body["scopes"] = list(scopes)
        if not isinstance(guid, _Unset):
            body["guid"] = guid
        if not isinstance(grace, _Unset):
            body["grace"] = _seconds(grace)
        if not isinstance(valid_from, _Unset):
            body["valid_from"] = format_time(valid_from)
        if not isinstance(valid_to, _Unset):
            body["valid_to"] = _time(valid_to)
        return Token.model_validate(
            await self._call("PATCH", f"/tokens/{_seg(token_id)}", json=body, if_match=if_match)
        )

    async def delete_token(self, token_id: str, *, if_match: int | None = None) -> None:
        await self._call("DELETE", f"/tokens/{_seg(token_id)}", if_match=if_match)

    async def revoke_token(self, token_id: str, *, if_match: int | None = None) -> Token:
        """End an active token now; revoking an inactive token is a 409."""
        return Token.model_validate(
            await self._call("POST", f"/tokens/{_seg(token_id)}/revoke", if_match=if_match)
        )

    async def regenerate_token(
        self, token_id: str, *, grace: timedelta | None = None, if_match: int | None = None
    ) -> Token:
        """Give the token a new server-made GUID. The old one stops working at once, or with
        a ``grace`` keeps working that long (up to 30 days), so its users can move over:
        meanwhile it verifies as ``superseded``, until ``previous_guid_until``. Regenerating
        again ends an older GUID at once; revoking ends both."""
        body = None if grace is None else {"grace": _seconds(grace)}
        return Token.model_validate(
            await self._call(
                "POST", f"/tokens/{_seg(token_id)}/regenerate", json=body, if_match=if_match
            )
        )

    async def bulk_revoke(self, ids: Iterable[str]) -> BulkResult:
        """Revoke each token (at most ``BULK_IDS_MAX``, none twice): each id's outcome, in order.
        A refusal of one id is its outcome (not_found, forbidden, conflict), not an error. Each
        id is its own transaction: hundreds take seconds, so send fewer or allow a longer
        ``timeout``."""
        body = {"ids": list(ids)}
        return BulkResult.model_validate(await self._call("POST", "/tokens/bulk-revoke", json=body))

    async def bulk_delete(self, ids: Iterable[str]) -> BulkResult:
        """Delete each token (at most ``BULK_IDS_MAX``, none twice): each id's outcome, in order."""
        body = {"ids": list(ids)}
        return BulkResult.model_validate(await self._call("POST", "/tokens/bulk-delete", json=body))

    async def verify_token(self, guid: str, scopes: Iterable[str] | None = None) -> Verification:
        """Is ``guid`` a usable credential (holding every scope in ``scopes``)?"""
        body: dict[str, Any] = {"guid": guid}
        if scopes is not None:
            body["scopes"] = list(scopes)
        return Verification.model_validate(await self._call("POST", "/tokens/verify", json=body))

    # --- history -------------------------------------------------------------------------

    async def history(
        self, token_id: str, *, before: int | None = None, limit: int | None = None
    ) -> EventPage:
        """One page of the token's history, newest first; ``next`` is the ``before`` of the
        older events (None when there are none). A 404 when the caller cannot see the token."""
        params: list[tuple[str, str]] = []
        if before is not None:
            params.append(("before", str(before)))
        if limit is not None:
            params.append(("limit", str(limit)))
        body = await self._call("GET", f"/tokens/{_seg(token_id)}/history", params=params)
        return EventPage.model_validate(body)

    async def iter_history(
        self, token_id: str, *, page_size: int = PAGE_SIZE_MAX
    ) -> AsyncIterator[Event]:
        """Every event of the token, newest first, fetched page by page."""
        before: int | None = None
        while True:
            page = await self.history(token_id, before=before, limit=page_size)
            for event in page.items:
                yield event
            if page.next is None or not page.items:
                return
            before = page.next

    def events(
        self, after: int | None = None, *, on_connection: ConnectionListener | None = None
    ) -> AsyncGenerator[Event, None]:
        """The change feed: every event the caller may see, as it happens, for as long as it runs.

        ``after`` is the last event id already seen (None: from now on). It resumes by itself
        after a dropped connection, never yielding an event twice; ``on_connection`` is told
        True when the feed is up and False while it is down. Raises ApiError when the server
        refuses the key (it was rotated or deleted). Stop it with ``aclose()`` or by
        cancelling the task that reads it.
        """
        return follow(self._connection, after, on_connection)

    async def list_events(self, *, after: int = 0, limit: int | None = None) -> EventPage:
        """The events the caller may see after event ``after``, oldest first; ``next`` is the
        ``after`` to ask with next (also when this page was empty)."""
        params = [("after", str(after))]
        if limit is not None:
            params.append(("limit", str(limit)))
        return EventPage.model_validate(await self._call("GET", "/events", params=params))

    # --- scopes --------------------------------------------------------------------------

    async def list_scopes(self) -> list[Scope]:
        """The caller's scopes (an admin's: all of them)."""
        body = await self._call("GET", "/scopes")
        return [Scope.model_validate(item) for item in body["items"]]

    async def create_scope(self, name: str, description: str = "") -> Scope:
        body = {"name": name, "description": description}
        return Scope.model_validate(await self._call("POST", "/scopes", json=body))

    async def delete_scope(self, name: str) -> None:
        await self._call("DELETE", f"/scopes/{_seg(name)}")

    # --- users ---------------------------------------------------------------------------

    async def list_users(self) -> list[User]:
        body = await self._call("GET", "/users")
        return [User.model_validate(item) for item in body["items"]]

    async def create_user(
        self, name: str, scopes: Iterable[str] = (), *, admin: bool = False
    ) -> UserWithKey:
        """Create a user; its API key is in the answer and never shown again."""
        body = {"name": name, "scopes": list(scopes), "admin": admin}
        return UserWithKey.model_validate(await self._call("POST", "/users", json=body))

    async def update_user(
        self,
        name: str,
        *,
        scopes: Iterable[str] | _Unset = UNSET,
        admin: bool | _Unset = UNSET,
    ) -> User:
        body: dict[str, Any] = {}
        if not isinstance(scopes, _Unset):
            body["scopes"] = list(scopes)
        if not isinstance(admin, _Unset):
            body["admin"] = admin
        return User.model_validate(await self._call("PATCH", f"/users/{_seg(name)}", json=body))

    async def delete_user(self, name: str) -> None:
        await self._call("DELETE", f"/users/{_seg(name)}")

    async def rotate_user_key(self, name: str) -> UserWithKey:
        """Give the user a new API key; the old one stops working at once."""
        return UserWithKey.model_validate(await self._call("POST", f"/users/{_seg(name)}/key"))
