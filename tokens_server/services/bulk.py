"""Bulk revoke and delete: the single-token rules (``TokenService.revoke`` and ``.delete``)
applied to each id. A refusal is that id's outcome, never the request's error, and leaves the
others changed.

The ids are judged and written a chunk at a time (``storage.token_chunks``), each chunk in one
transaction with one event per token changed: the rules here judge each token as the chunk read
it, with the same checks a single change makes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from tokens_server.domain.errors import Conflict, DomainError, Forbidden, NotFound
from tokens_server.domain.models import BulkOutcome, BulkResult, Caller, Token
from tokens_server.services.token_rules import changeable, revocable
from tokens_server.services.tokens import TokenService
from tokens_server.storage.token_chunks import Judge

# The refusals a single change answers with 404, 403 and 409, as outcomes. A token the caller
# cannot see is not_found whether or not it exists, as for a single change.
_REFUSALS: tuple[tuple[type[DomainError], BulkOutcome], ...] = (
    (NotFound, "not_found"),
    (Forbidden, "forbidden"),
    (Conflict, "conflict"),
)
_REFUSED = tuple(error for error, _ in _REFUSALS)

# The single change's checks of one token as read, at a time: raise as that change refuses.
_Check = Callable[[str, Token | None, datetime], object]


def _judge(check: _Check) -> Judge:
    def judge(token_id: str, token: Token | None, now: datetime) -> DomainError | None:
        try:
            check(token_id, token, now)
        except _REFUSED as refusal:
            return refusal
        return None

    return judge


def _results(
    ids: list[str], refusals: list[DomainError | None], done: BulkOutcome
) -> list[BulkResult]:
    results = []
    for token_id, refusal in zip(ids, refusals, strict=True):
        if refusal is None:
            results.append(BulkResult(token_id, done))
        else:
            kind = next(outcome for error, outcome in _REFUSALS if isinstance(refusal, error))
            results.append(BulkResult(token_id, kind, refusal.detail))
    return results


async def revoke_each(service: TokenService, caller: Caller, ids: list[str]) -> list[BulkResult]:
    """Revoke each token: revoked, or refused as ``TokenService.revoke`` refuses."""

    def check(token_id: str, token: Token | None, now: datetime) -> None:
        revocable(changeable(caller, token_id, token, None), now)

    refusals = await service.repo.token_chunks.revoke(ids, _judge(check), caller.name)
    return _results(ids, refusals, "revoked")


async def delete_each(service: TokenService, caller: Caller, ids: list[str]) -> list[BulkResult]:
    """Delete each token: deleted, or refused as ``TokenService.delete`` refuses."""

    def check(token_id: str, token: Token | None, now: datetime) -> None:
        changeable(caller, token_id, token, None)

    refusals = await service.repo.token_chunks.delete(ids, _judge(check), caller.name)
    return _results(ids, refusals, "deleted")
