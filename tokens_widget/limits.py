"""The server's rules the widget obeys, declared once for its Python side and its browser side.

The browser reads them from the widget's ``_limits`` trait (``for_browser``), never from a copy
of its own; ``tests/widget/test_limits.py`` checks each against a running server's OpenAPI
document, so they cannot drift from what the server enforces.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final, Literal, get_args

SortKey = Literal["name", "-name", "is_active", "-is_active"]
StatusFilter = Literal["active", "inactive"]

SORT_KEYS: Final[tuple[SortKey, ...]] = get_args(SortKey)
STATUS_FILTERS: Final[tuple[StatusFilter, ...]] = get_args(StatusFilter)
PAGE_SIZES: Final = (10, 25, 50, 100, 200)
DEFAULT_PAGE_SIZE: Final = 50
# The server refuses shorter GUID searches: a few characters would match too many tokens.
GUID_FILTER_MIN: Final = 4
NAME_MAX: Final = 200
DESCRIPTION_MAX: Final = 2000
# The server accepts a valid_from up to five minutes old, for clock skew.
VALID_FROM_SKEW: Final = timedelta(minutes=5)
GUID_PATTERN: Final = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


def for_browser() -> dict[str, Any]:
    """The limits the browser needs to draw its controls, as JSON."""
    return {
        "page_sizes": list(PAGE_SIZES),
        "guid_filter_min": GUID_FILTER_MIN,
        "name_max": NAME_MAX,
        "description_max": DESCRIPTION_MAX,
    }
