"""Bulk revoke and delete: the single-token rules (``TokenService.revoke`` and ``.delete``)
applied to each id. A refusal is that id's outcome, never the request's error, and leaves the
others changed.

The ids go in windows of ``WINDOW``. A window's ids are checked at once, on the tokens as read
now (the single change's checks); those that pass are then written at once, in request order,
so that their changes queue together for the group commit (``storage.group_commit``): a few
transactions, one event each, one journal wait per group. Each write is checked again as it
commits, as a single change's is. Refusals are judged from the read where they can be, because
a change refused inside a group costs the group an abort and a second run. A window bounds how
long a check may be older than its write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

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

Step = Callable[[str], Awaitable[object]]
# Ids checked, then written, at once: a few group commits' worth.
WINDOW = 100


@dataclass(frozen=True)
class _Action:
    check: Step  # the single change's checks, from a read; raises as it refuses
    write: Step  # its write, checked again as it commits
    done: BulkOutcome


async def _each(ids: list[str], action: _Action) -> list[BulkResult]:
    results: dict[str, BulkResult] = {}
    for start in range(0, len(ids), WINDOW):
        window = ids[start : start + WINDOW]
        checked = await _steps(window, action.check)
        results |= {i: refused for i, refused in checked.items() if refused is not None}
        passed = [i for i in window if checked[i] is None]
        written = await _steps(passed, action.write)
        results |= {i: refused or BulkResult(i, action.done) for i, refused in written.items()}
    return [results[i] for i in ids]


async def _steps(ids: list[str], step: Step) -> dict[str, BulkResult | None]:
    """Run ``step`` for each id at once, started in order: None where it passed, else the
    refusal. Every step ends before a failure is raised: the database failing is no outcome of
    an id, and the request fails (503) leaving each id done or untouched, to be sent again."""
    answers = await asyncio.gather(*(step(i) for i in ids), return_exceptions=True)
    outcomes: dict[str, BulkResult | None] = {}
    for token_id, answer in zip(ids, answers, strict=True):
        if not isinstance(answer, BaseException):
            outcomes[token_id] = None
            continue
        kind = next((o for k, o in _REFUSALS if isinstance(answer, k)), None)
        if kind is None:
            raise answer
        assert isinstance(answer, DomainError)
        outcomes[token_id] = BulkResult(token_id, kind, answer.detail)
    return outcomes


async def revoke_each(service: TokenService, caller: Caller, ids: list[str]) -> list[BulkResult]:
    """Revoke each token: revoked, or refused as ``TokenService.revoke`` refuses."""
    action = _Action(
        check=lambda token_id: service.revocable(caller, token_id, None),
        write=lambda token_id: service.revoke_checked(caller, token_id, None),
        done="revoked",
    )
    return await _each(ids, action)


async def delete_each(service: TokenService, caller: Caller, ids: list[str]) -> list[BulkResult]:
    """Delete each token: deleted, or refused as ``TokenService.delete`` refuses."""
    action = _Action(
        check=lambda token_id: service.deletable(caller, token_id, None),
        write=lambda token_id: service.delete_checked(caller, token_id, None),
        done="deleted",
    )
    return await _each(ids, action)
