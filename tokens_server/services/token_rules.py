"""The checks of one token, in one place: who sees it and who may change it, what revocation
needs, what an edit changes and which dates it may set. ``TokenService`` runs them on a token
it read; a bulk action on each token of a chunk (``services/bulk``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tokens_server.domain.errors import Conflict, Forbidden, Invalid, NotFound, PreconditionFailed
from tokens_server.domain.limits import CLOCK_SKEW
from tokens_server.domain.models import Caller, Token, TokenChanges

# What an edit may still change on a revoked token.
MUTABLE_WHEN_REVOKED = frozenset({"name", "description"})


def seen(caller: Caller, token_id: str, token: Token | None) -> Token:
    """The token as read, if ``caller`` sees it: one it cannot see reads as one that is not."""
    if token is None or not caller.sees(token.scopes):
        raise NotFound(f"there is no token {token_id!r} that you can see")
    return token


def changeable(caller: Caller, token_id: str, token: Token | None, expected: int | None) -> Token:
    """The token as read, if ``caller`` may change it (at version ``expected``, when given)."""
    token = seen(caller, token_id, token)
    if not caller.holds_all(token.scopes):
        missing = sorted(set(token.scopes) - caller.scopes)
        raise Forbidden(
            f"changing this token needs every scope it has; you lack {', '.join(missing)}"
        )
    if expected is not None and expected != token.version:
        raise PreconditionFailed(
            f"the token changed meanwhile: it is at version {token.version}, not {expected}"
        )
    return token


def revocable(token: Token, now: datetime) -> None:
    """Refuse to revoke a token that is not active."""
    if not token.is_active(now):
        raise Conflict(f"only an active token can be revoked; this one is {token.status(now)}")


def replaced_guid(token: Token, grace: timedelta, now: datetime) -> dict[str, Any]:
    """What a new GUID does to the one it replaces: it keeps working for ``grace`` (not past
    the token's end), or stops now. Only one previous GUID is kept, so replacing a GUID again
    ends an older one at once."""
    if not grace:
        return {"previous_guid": None, "previous_guid_until": None}
    until = now + grace
    if token.valid_to is not None:
        until = min(until, token.valid_to)
    return {"previous_guid": token.guid, "previous_guid_until": until}


def changes_of(token: Token, change: TokenChanges, now: datetime) -> dict[str, Any]:
    """The fields the change sets to a value other than the current one."""
    changes: dict[str, Any] = {}
    for field, value in change.set_fields().items():
        if field == "grace":
            continue
        if field == "valid_from" and value is None:
            value = now
        if value != getattr(token, field):
            changes[field] = value
    return changes


def check_dates(
    now: datetime, valid_from: datetime, valid_to: datetime | None, from_set: bool, to_set: bool
) -> None:
    """Dates that are set or changed must not lie in the past; the window must not be empty."""
    if from_set and valid_from < now - CLOCK_SKEW:
        raise Invalid.field("valid_from", "must not lie in the past")
    if valid_to is not None and (from_set or to_set):
        if to_set and valid_to < now:
            raise Invalid.field("valid_to", "must not lie in the past")
        if valid_to <= valid_from:
            raise Invalid.field("valid_to", "must be after valid_from")
