"""Typed results of the usage calls, each with ``to_pandas()`` for charting and joining (needs
the ``pandas`` extra: ``pip install 'tokens[pandas]'``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, Field

from tokens_server.domain.usage import REFUSALS, Bucket

from .models import ApiModel

if TYPE_CHECKING:
    import pandas


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError(
            "to_pandas() needs pandas: install the extra with pip install 'tokens[pandas]'"
        ) from None
    return pandas


class Refusals(ApiModel):
    """Refused verifications of a token, by why."""

    revoked: int
    expired: int
    not_yet_active: int
    missing_scopes: int
    superseded_after_grace: int


class UsageCounts(ApiModel):
    """Verifications answered valid (``uses``) and refused, in all and by why."""

    uses: int
    refused: int
    refusals: Refusals

    def _columns(self) -> dict[str, int]:
        return {"uses": self.uses, "refused": self.refused} | self.refusals.model_dump()


class UsageBucket(UsageCounts):
    start: AwareDatetime


class UsageSeries(ApiModel):
    """One token's counts per UTC hour or day, zero-filled, from ``from_`` to ``to``."""

    token_id: str
    bucket: Bucket
    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime
    buckets: tuple[UsageBucket, ...]
    totals: UsageCounts

    def to_pandas(self) -> pandas.DataFrame:
        """One row per bucket, indexed by its UTC start: uses, refused and each reason."""
        pd = _pandas()
        rows = [bucket._columns() for bucket in self.buckets]
        index = pd.DatetimeIndex([bucket.start for bucket in self.buckets], name="start")
        return pd.DataFrame(rows, index=index, columns=["uses", "refused", *REFUSALS])


class DayUsage(ApiModel):
    start: AwareDatetime
    uses: int
    refused: int


class TokenUsage(UsageCounts):
    """One token's totals over the summary's window; ``daily`` when asked for."""

    token_id: str
    name: str
    last_used_at: AwareDatetime | None = None
    daily: tuple[DayUsage, ...] | None = None


class UsageSummary(ApiModel):
    """One page of every visible token's totals over a window, unused tokens too."""

    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime
    items: tuple[TokenUsage, ...]
    total: int
    limit: int
    offset: int

    def to_pandas(self) -> pandas.DataFrame:
        """One row per token of the page, indexed by its id: name, the counts, last use."""
        pd = _pandas()
        rows = [
            {"name": item.name, **item._columns(), "last_used_at": item.last_used_at}
            for item in self.items
        ]
        columns = ["name", "uses", "refused", *REFUSALS, "last_used_at"]
        index = pd.Index([item.token_id for item in self.items], name="token_id")
        frame = pd.DataFrame(rows, index=index, columns=columns)
        frame["last_used_at"] = pd.to_datetime(frame["last_used_at"], utc=True)
        return frame
