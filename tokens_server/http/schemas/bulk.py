"""Bulk revoke and delete: the ids asked for, and each id's outcome."""

from __future__ import annotations

from collections import Counter

from pydantic import Field

from tokens_server.domain.models import (
    BulkOutcome,
    BulkResult,
)
from tokens_server.http.field_types import (
    TokenIds,
)
from tokens_server.http.schemas.base import (
    Out,
    Strict,
)


class BulkRequest(Strict):
    ids: TokenIds = Field(
        description="The tokens to change, each named once; each is changed on its own, so "
        "a refusal of one leaves the others changed."
    )


class BulkResultOut(Out):
    id: str
    outcome: BulkOutcome = Field(
        description="not_found: no such token, or none you can see; forbidden: you see it but "
        "lack one of its scopes; conflict: revoking a token that is not active."
    )
    detail: str | None = Field(description="Why it was refused; null when it was changed.")


class BulkCounts(Out):
    revoked: int = 0
    deleted: int = 0
    not_found: int = 0
    forbidden: int = 0
    conflict: int = 0


class BulkOut(Out):
    results: list[BulkResultOut] = Field(description="One per id sent, in the order sent.")
    counts: BulkCounts = Field(description="How many ids had each outcome.")

    @classmethod
    def of(cls, results: list[BulkResult]) -> BulkOut:
        counts = BulkCounts(**Counter[str](result.outcome for result in results))
        return cls(results=[BulkResultOut(**vars(r)) for r in results], counts=counts)
