"""``TokensClient``'s calls on many tokens at once: each id has its own outcome, so a refusal of
one is part of the answer, not an error."""

from __future__ import annotations

from collections.abc import Iterable

from ..models import BulkResult
from .calls import Calls


class BulkCalls(Calls):
    """Bulk operations of ``TokensClient``."""

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
