"""``TokensClient``'s calls on single tokens: list, create, read, change, revoke, regenerate,
delete and verify."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta
from typing import Any

from ..limits import DEFAULT_PAGE_SIZE, PAGE_SIZE_MAX, SortKey, StatusFilter
from ..models import Token, TokenPage, Verification, format_time
from .calls import UNSET, Calls, _Unset, optional_time, path_segment, whole_seconds


class TokenCalls(Calls):
    """Single-token operations of ``TokensClient``."""

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
        refused_within: int | None = None,
    ) -> TokenPage:
        """One page of the tokens visible to the caller, filtered and sorted by the server.
        ``expires_within``: active tokens ending within that many days; ``unused_for``:
        tokens never used, or not in that many days; ``refused_within``: tokens a
        verification refused within that many days."""
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
        if refused_within is not None:
            params.append(("refused_within", str(refused_within)))
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
        return Token.model_validate(await self._call("GET", f"/tokens/{path_segment(token_id)}"))

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
            body["grace"] = whole_seconds(grace)
        if not isinstance(valid_from, _Unset):
            body["valid_from"] = format_time(valid_from)
        if not isinstance(valid_to, _Unset):
            body["valid_to"] = optional_time(valid_to)
        path = f"/tokens/{path_segment(token_id)}"
        return Token.model_validate(await self._call("PATCH", path, json=body, if_match=if_match))

    async def delete_token(self, token_id: str, *, if_match: int | None = None) -> None:
        await self._call("DELETE", f"/tokens/{path_segment(token_id)}", if_match=if_match)

    async def revoke_token(self, token_id: str, *, if_match: int | None = None) -> Token:
        """End an active token now; revoking an inactive token is a 409."""
        path = f"/tokens/{path_segment(token_id)}/revoke"
        return Token.model_validate(await self._call("POST", path, if_match=if_match))

    async def regenerate_token(
        self, token_id: str, *, grace: timedelta | None = None, if_match: int | None = None
    ) -> Token:
        """Give the token a new server-made GUID. The old one stops working at once, or with
        a ``grace`` keeps working that long (up to 30 days), so its users can move over:
        meanwhile it verifies as ``superseded``, until ``previous_guid_until``. Regenerating
        again ends an older GUID at once; revoking ends both."""
        body = None if grace is None else {"grace": whole_seconds(grace)}
        path = f"/tokens/{path_segment(token_id)}/regenerate"
        return Token.model_validate(await self._call("POST", path, json=body, if_match=if_match))

    async def verify_token(self, guid: str, scopes: Iterable[str] | None = None) -> Verification:
        """Is ``guid`` a usable credential (holding every scope in ``scopes``)?"""
        body: dict[str, Any] = {"guid": guid}
        if scopes is not None:
            body["scopes"] = list(scopes)
        return Verification.model_validate(await self._call("POST", "/tokens/verify", json=body))
