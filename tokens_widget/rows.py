"""A token as one row of the grid: the fields the browser draws, as JSON."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .models import Token

# What the grid needs of a token; dates cross to the browser as ISO 8601 strings.
ROW_FIELDS: set[str] = {
    "id",
    "name",
    "guid",
    "guid_prefix",
    "description",
    "scopes",
    "valid_from",
    "valid_to",
    "last_used_at",
    "previous_guid_until",
    "is_active",
    "status",
    "version",
    "can_change",
}


def token_row(token: Token, now: datetime, warning_days: int) -> dict[str, Any]:
    """One row of the grid, as JSON, with a word on its end when that is near."""
    row = token.model_dump(mode="json", include=ROW_FIELDS)
    row["expiry_note"] = expiry_note(token, now, warning_days)
    return row


def expiry_note(token: Token, now: datetime, warning_days: int) -> str:
    """ "Expires in 3 days" for an active token whose end is within ``warning_days``; else ""."""
    if not token.is_active or token.valid_to is None:
        return ""
    left = token.valid_to - now
    if left > timedelta(days=warning_days):
        return ""
    if left < timedelta(hours=1):
        return "Expires within the hour"
    # Rounded: a token made "for two days" a moment ago still expires in 2 days.
    if left < timedelta(hours=23, minutes=30):
        hours = max(1, round(left / timedelta(hours=1)))
        return "Expires in 1 hour" if hours == 1 else f"Expires in {hours} hours"
    days = round(left / timedelta(days=1))
    return "Expires in 1 day" if days == 1 else f"Expires in {days} days"
