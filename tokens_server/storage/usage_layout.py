"""How usage counts are stored: two collections, each shaped for the reads it serves, since the
embedded database costs about 50-75 µs for every document a query returns.

- ``usage_hours``: one document per token and UTC day, ``{token_id, day, h: {"13": {"uses":
  4, "revoked": 1}}}``: a series by the hour reads one document a day (90 days: 90, not 2,160).
- ``usage_days``: one document per token and UTC month, ``{token_id, month, d: {"7": {…}}}``:
  a series by the day, the summary over every token and its sparklines read one or two
  documents a token for a window of a few weeks, not one a day (10k tokens used daily, 14
  days: about 15k documents, not 140k).

An outcome never counted is absent. Each collection has a unique index on (token_id, date) and
a TTL index on the date, set so that no hour or day is removed before the retention has passed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from tokens_server.domain.usage import OUTCOMES, UsageCounts

Document = dict[str, Any]
HOURS = "usage_hours"
DAYS = "usage_days"
# A token id and a whole number of hours (or days) since 1970: small keys, hashed fast.
Key = tuple[str, int]
Slots = list[int]
# A document to add to: its token id and date (a day, or a month), and the fields to $inc.
Target = tuple[str, datetime]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def hour_index(moment: datetime) -> int:
    return int(moment.timestamp()) // 3600


def day_at(day: int) -> datetime:
    return _EPOCH + timedelta(days=day)


def month_of(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def by_day(counts: dict[Key, Slots]) -> dict[Key, Slots]:
    """Counts by (token, hour) summed by (token, day)."""
    days: dict[Key, Slots] = {}
    for (token_id, hour), slots in counts.items():
        add_to(days, (token_id, hour // 24), slots)
    return days


def add_to(counts: dict[Key, Slots], key: Key, slots: Slots) -> None:
    held = counts.setdefault(key, [0] * len(OUTCOMES))
    for slot, n in enumerate(slots):
        held[slot] += n


def hour_targets(counts: dict[Key, Slots]) -> dict[Target, list[Key]]:
    """The ``usage_hours`` documents counts by (token, hour) go to, with the keys of each."""
    targets: defaultdict[Target, list[Key]] = defaultdict(list)
    for key in counts:
        token_id, hour = key
        targets[(token_id, day_at(hour // 24))].append(key)
    return targets


def day_targets(counts: dict[Key, Slots]) -> dict[Target, list[Key]]:
    """The ``usage_days`` documents counts by (token, day) go to, with the keys of each."""
    targets: defaultdict[Target, list[Key]] = defaultdict(list)
    for key in counts:
        token_id, day = key
        targets[(token_id, month_of(day_at(day)))].append(key)
    return targets


def hour_fields(keys: list[Key], counts: dict[Key, Slots]) -> dict[str, int]:
    """What to $inc in a ``usage_hours`` document: ``h.<hour of the day>.<outcome>``."""
    return _fields("h", [(hour % 24, counts[(t, hour)]) for t, hour in keys])


def day_fields(keys: list[Key], counts: dict[Key, Slots]) -> dict[str, int]:
    """What to $inc in a ``usage_days`` document: ``d.<day of the month>.<outcome>``."""
    return _fields("d", [(day_at(day).day, counts[(t, day)]) for t, day in keys])


def _fields(root: str, parts: list[tuple[int, Slots]]) -> dict[str, int]:
    return {
        f"{root}.{part}.{outcome}": n
        for part, slots in parts
        for outcome, n in zip(OUTCOMES, slots, strict=True)
        if n
    }


def hours_in(doc: Document) -> Iterator[tuple[datetime, UsageCounts]]:
    """Each hour a ``usage_hours`` document holds: its start and counts."""
    for hour, held in (doc.get("h") or {}).items():
        yield doc["day"] + timedelta(hours=int(hour)), UsageCounts.of(held)


def days_in(doc: Document) -> Iterator[tuple[datetime, UsageCounts]]:
    """Each day a ``usage_days`` document holds: its start and counts."""
    for day, held in (doc.get("d") or {}).items():
        yield doc["month"].replace(day=int(day)), UsageCounts.of(held)


def days_summed(doc: Document, start: datetime, end: datetime, into: Slots) -> None:
    """Add the days of a ``usage_days`` document from ``start`` to ``end`` (excluded, both at
    midnight) to ``into``, in OUTCOMES order: the summary's inner loop, over every token's
    documents, so by day numbers rather than dates."""
    month: datetime = doc["month"]
    first, last = (start - month).days + 1, (end - month).days
    for day, held in (doc.get("d") or {}).items():
        if first <= int(day) <= last:
            for slot, outcome in enumerate(OUTCOMES):
                n = held.get(outcome)
                if n:
                    into[slot] += n
