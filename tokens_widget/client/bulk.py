"""``TokensClient``'s calls on many tokens at once: each id has its own outcome, so a refusal of
one is part of the answer, not an error."""

from __future__ import annotations

from collections.abc import Iterable

from ..models import BulkResult
from .calls import Calls

# How long a bulk call may take. The server writes each id's change with its event, a few group
# commits for 500 ids: seconds (about 1-2 s on two quiet cores, 40 s seen on a machine whose
# load was five times its cores), not the single calls' fraction of one.
BULK_TIMEOUT_S = 120.0


class BulkCalls(Calls):
    """Bulk operations of ``TokensClient``."""

    async def bulk_revoke(self, ids: Iterable[str]) -> BulkResult:
        """Revoke each token (at most ``BULK_IDS_MAX``, none twice): each id's outcome, in order.
        A refusal of one id is its outcome (not_found, forbidden, conflict), not an error. The
        call waits up to ``BULK_TIMEOUT_S``, or the client's ``timeout`` if longer."""
        return await self._bulk("/tokens/bulk-revoke", ids)

    async def bulk_delete(self, ids: Iterable[str]) -> BulkResult:
        """Delete each token (at most ``BULK_IDS_MAX``, none twice): each id's outcome, in order."""
        return await self._bulk("/tokens/bulk-delete", ids)

    async def _bulk(self, path: str, ids: Iterable[str]) -> BulkResult:
        limit = max(BULK_TIMEOUT_S, self._connection.timeout)
        body = {"ids": list(ids)}
        answer = await self._call("POST", path, json=body, time_limit=limit)
        return BulkResult.model_validate(answer)
