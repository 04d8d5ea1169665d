"""A token as one row of the grid: the fields the browser draws, as JSON."""

from __future__ import annotations

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
    "is_active",
    "status",
    "version",
    "can_change",
}


def token_row(token: Token) -> dict[str, Any]:
    """One row of the grid, as JSON."""
    return token.model_dump(mode="json", include=ROW_FIELDS)
