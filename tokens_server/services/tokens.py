"""What a caller may do with tokens: list, read, create, edit, revoke, regenerate, delete and
verify, each checked by the rules of one token (``token_rules``). Handlers call these with the
caller; the repository stores the outcome.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tokens_server.domain.errors import Conflict, Forbidden, Invalid, PreconditionFailed
from tokens_server.domain.guids import is_guid, new_guid
from tokens_server.domain.models import (
    Caller,
    EventAction,
    EventPage,
    NewToken,
    Token,
    TokenChanges,
    TokenPage,
    TokenQuery,
    TokenSearch,
    TokenStatus,
    Unset,
    Verification,
    utcnow,
)
from tokens_server.domain.names import search_key
from tokens_server.domain.usage import Outcome
from tokens_server.services.contention import until_applied
from tokens_server.services.token_rules import (
    MUTABLE_WHEN_REVOKED,
    changeable,
    changes_of,
    check_dates,
    replaced_guid,
    revocable,
    seen,
)
from tokens_server.storage import Repository

# How usage counts a verification refused for the token's status.
_REFUSED_AS: dict[TokenStatus, Outcome] = {
    "scheduled": "not_yet_active",
    "expired": "expired",
    "revoked": "revoked",
}


@dataclass
class TokenService:
    repo: Repository
    # How many tokens a user may hold; admins have no limit.
    max_tokens_per_user: int

    async def list_tokens(self, caller: Caller, search: TokenSearch) -> TokenPage:
        not_held = [s for s in search.scopes if not caller.holds(s)]
        if not_held:
            raise Invalid.field("scope", f"you do not hold {', '.join(not_held)}")
        if search.scopes:
            scopes: tuple[str, ...] | None = tuple(dict.fromkeys(search.scopes))
        else:
            scopes = None if caller.admin else tuple(sorted(caller.scopes))
        keywords = tuple(dict.fromkeys(search_key(search.name or "").split()))
        query = TokenQuery(
            keywords=keywords,
            guid_prefix=None if search.guid is None else search.guid.lower(),
            scopes=scopes,
            caller=caller,
            status=search.status,
            sort=search.sort,
            limit=search.limit,
            offset=search.offset,
            expires_within=search.expires_within,
            unused_for=search.unused_for,
            refused_within=search.refused_within,
        )
        return await self.repo.token_pages.page(query, utcnow())

    async def get(self, caller: Caller, token_id: str) -> Token:
        return seen(caller, token_id, await self.repo.tokens.get(token_id))

    async def history(
        self, caller: Caller, token_id: str, before: int | None, limit: int
    ) -> EventPage:
        """The token's events, newest first, for a caller who sees the token; of those, the
        ones whose scopes at the time share one with the caller's (all, for an admin)."""
        await self.get(caller, token_id)
        return await self.repo.events.of_token(token_id, caller, before, limit)

    async def _changeable(
        self, caller: Caller, token_id: str, expected: int | None, fresh: bool = False
    ) -> Token:
        """The token if ``caller`` may change it; read from the database when ``fresh``."""
        token = await self.repo.tokens.get(token_id, fresh=fresh)
        return changeable(caller, token_id, token, expected)

    async def _check_scopes(self, caller: Caller, scopes: list[str]) -> None:
        not_held = [s for s in scopes if not caller.holds(s)]
        if not_held:
            raise Forbidden(f"you can only give scopes you hold; you lack {', '.join(not_held)}")
        if not caller.admin:
            return  # a scope a user holds exists: deleting it is refused while a user holds it
        missing = await self.repo.scopes.missing(scopes)
        if missing:
            raise Invalid.field("scopes", f"unknown scope {', '.join(missing)}")

    async def create(self, caller: Caller, new: NewToken) -> Token:
        await self._check_scopes(caller, new.scopes)
        now = utcnow()
        valid_from = new.valid_from or now
        check_dates(now, valid_from, new.valid_to, new.valid_from is not None, True)
        fields = {
            "name": new.name,
            "description": new.description,
            "scopes": new.scopes,
            "guid": new.guid or new_guid(),
            "valid_from": valid_from,
            "valid_to": new.valid_to,
        }
        limit = None if caller.admin else self.max_tokens_per_user
        drawn = new.guid is None
        return await self.repo.tokens.insert(fields, caller.name, now, limit, drawn=drawn)

    async def patch(
        self, caller: Caller, token_id: str, change: TokenChanges, expected: int | None
    ) -> Token:
        async def attempt(fresh: bool) -> Token | None:
            token = await self._changeable(caller, token_id, expected, fresh)
            now = utcnow()
            changes = changes_of(token, change, now)
            grace = timedelta(0) if isinstance(change.grace, Unset) else change.grace
            if "guid" in changes:
                changes |= replaced_guid(token, grace, now)
            elif not isinstance(change.grace, Unset) and isinstance(change.guid, Unset):
                # A grace with the token's own GUID changes nothing, as sending an edit twice
                # must not refuse the second: only a grace with no GUID at all is refused.
                raise Invalid.field("grace", "applies only with a new guid")
            if not changes:
                return token
            if token.revoked_at is not None and not changes.keys() <= MUTABLE_WHEN_REVOKED:
                raise Conflict(
                    "a revoked token stays revoked: only its name and description can change"
                )
            if "scopes" in changes:
                await self._check_scopes(caller, changes["scopes"])
            check_dates(
                now,
                changes.get("valid_from", token.valid_from),
                changes.get("valid_to", token.valid_to),
                "valid_from" in changes,
                "valid_to" in changes,
            )
            return await self._write(caller, token, changes, expected, now)

        return await self._applied(caller, token_id, expected, attempt)

    async def _write(
        self,
        caller: Caller,
        token: Token,
        changes: dict[str, Any],
        expected: int | None,
        now: datetime,
        action: EventAction = "token.updated",
    ) -> Token | None:
        """Write ``changes`` checked against ``token``, if it is still as checked: at its
        version under If-Match; without it, with the scopes, revocation and dates the checks
        read, so that writers changing other fields meanwhile do not hold this change up."""
        return await self.repo.tokens.update(
            token, changes, caller.name, now, same_version=expected is not None, action=action
        )

    async def _applied(
        self,
        caller: Caller,
        token_id: str,
        expected: int | None,
        attempt: Callable[[bool], Awaitable[Token | None]],
    ) -> Token:
        """Run a change: once under If-Match (a lost race is 412), else until it applies."""
        if expected is None:
            return await until_applied(attempt)
        updated = await attempt(False)
        if updated is None:
            raise await self._lost_race(caller, token_id)
        return updated

    async def _lost_race(self, caller: Caller, token_id: str) -> Exception:
        await self.get(caller, token_id)  # raises NotFound when it was deleted meanwhile
        return PreconditionFailed("the token changed meanwhile; reload it and try again")

    async def delete(self, caller: Caller, token_id: str, expected: int | None) -> None:
        await self._changeable(caller, token_id, expected)
        if not await self.repo.tokens.delete(token_id, expected, caller.name, utcnow()):
            raise await self._lost_race(caller, token_id)

    async def revoke(self, caller: Caller, token_id: str, expected: int | None) -> Token:
        revocable(await self._changeable(caller, token_id, expected), utcnow())
        # The write applies only if the token is still active (and at ``expected``).
        revoked = await self.repo.tokens.revoke(token_id, expected, caller.name, utcnow())
        if revoked is not None:
            return revoked
        current = await self.get(caller, token_id)
        if expected is not None and current.version != expected:
            raise PreconditionFailed("the token changed meanwhile; reload it and try again")
        raise Conflict(
            f"only an active token can be revoked; this one is {current.status(utcnow())}"
        )

    async def regenerate(
        self, caller: Caller, token_id: str, expected: int | None, grace: timedelta
    ) -> Token:
        async def attempt(fresh: bool) -> Token | None:
            token = await self._changeable(caller, token_id, expected, fresh)
            if token.revoked_at is not None:
                raise Conflict("a revoked token stays revoked: its GUID cannot be regenerated")
            now = utcnow()
            changes = {"guid": new_guid()} | replaced_guid(token, grace, now)
            return await self._write(
                caller, token, changes, expected, now, action="token.regenerated"
            )

        return await self._applied(caller, token_id, expected, attempt)

    async def verify(self, caller: Caller, guid: str, scopes: list[str]) -> Verification:
        token = await self.repo.tokens.by_guid(guid.lower()) if is_guid(guid) else None
        if token is None or not caller.sees(token.scopes):
            return Verification(valid=False, status="not_found")
        now = utcnow()
        count = self.repo.usage_counts.count
        status = token.status(now)
        if status != "active":
            count(token.id, _REFUSED_AS[status], now)
            return Verification(valid=False, status=status)
        superseded_until = None
        if token.guid != guid.lower():  # found as the token's previous GUID
            superseded_until = token.previous_guid_works_until(now)
            if superseded_until is None:  # its grace is over: as if replaced without one
                count(token.id, "superseded_after_grace", now)
                return Verification(valid=False, status="not_found")
        if not set(scopes) <= set(token.scopes):
            count(token.id, "missing_scopes", now)
            return Verification(valid=False, status="insufficient_scope")
        count(token.id, "uses", now)
        self.repo.tokens.last_use.note(token.id, token.last_used_at, now)
        return Verification(
            valid=True, status="active", token=token, superseded_until=superseded_until
        )
