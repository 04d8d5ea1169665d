"""Bulk revoke and delete: the single-token rules (``TokenService.revoke`` and ``.delete``)
applied to each id in turn. Each change is its own transaction with its own event, so a refusal
of one id leaves the others changed; a refusal is that id's outcome, never the request's error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tokens_server.domain.errors import Conflict, DomainError, Forbidden, NotFound
from tokens_server.domain.models import BulkOutcome, BulkResult, Caller
from tokens_server.services.tokens import TokenService

# The refusals a single change answers with 404, 403 and 409, as outcomes. A token the caller
# cannot see is not_found whether or not it exists, as for a single change.
_REFUSALS: tuple[tuple[type[DomainError], BulkOutcome], ...] = (
    (NotFound, "not_found"),
    (Forbidden, "forbidden"),
    (Conflict, "conflict"),
)


async def _each(
    ids: list[str], change: Callable[[str], Awaitable[object]], done: BulkOutcome
) -> list[BulkResult]:
    results = []
    for token_id in ids:
        try:
            await change(token_id)
        except DomainError as error:
            outcome = next((o for kind, o in _REFUSALS if isinstance(error, kind)), None)
            if outcome is None:
                # The database failing is no outcome of this id: the request fails (503) and
                # may be sent again, as the ids changed so far answer not_found or conflict.
                raise
            results.append(BulkResult(token_id, outcome, error.detail))
        else:
            results.append(BulkResult(token_id, done))
    return results


async def revoke_each(service: TokenService, caller: Caller, ids: list[str]) -> list[BulkResult]:
    """Revoke each token: revoked, or refused as ``TokenService.revoke`` refuses."""
    return await _each(ids, lambda token_id: service.revoke(caller, token_id, None), "revoked")


async def delete_each(service: TokenService, caller: Caller, ids: list[str]) -> list[BulkResult]:
    """Delete each token: deleted, or refused as ``TokenService.delete`` refuses."""
    return await _each(ids, lambda token_id: service.delete(caller, token_id, None), "deleted")
