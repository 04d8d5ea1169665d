"""What each group of ``TokensClient``'s calls stands on: one connection, and values as the API
takes them in a path or a body."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import quote

from ..connection import Connection
from ..models import format_time


class _Unset(enum.Enum):
    UNSET = "UNSET"


#: Marks a PATCH field as "leave unchanged" (``None`` clears ``valid_to``).
UNSET: Final = _Unset.UNSET


def path_segment(value: str) -> str:
    """A value as one URL path segment, so an id can never reach another route."""
    return quote(value, safe="")


def optional_time(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def whole_seconds(grace: timedelta) -> int:
    """A grace as the API takes it: whole seconds."""
    return int(grace.total_seconds())


class Calls:
    """The operations of one resource, sent through the connection ``TokensClient`` owns."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._call = connection.call
