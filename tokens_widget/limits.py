"""The server's rules the widget obeys, for its Python side and its browser side.

Each value is the server's own (``tokens_server.limits``, ``guids``, ``models``: both packages
ship together), so the widget cannot drift from what the server enforces; only the page sizes
offered in the pager are the widget's choice. The browser reads them from the widget's
``_limits`` trait (``for_browser``), never from a copy of its own. ``tests/widget/test_limits.py``
checks them against a running server's OpenAPI document.
"""

from __future__ import annotations

from typing import Any, Final, get_args

from tokens_server.domain.guids import GUID_PATTERN
from tokens_server.domain.limits import (
    BULK_IDS_MAX,
    CLOCK_SKEW,
    DESCRIPTION_MAX,
    GRACE_MAX_S,
    GUID_FILTER_MIN,
    HEARTBEAT_S,
    LIST_DAYS_MAX,
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    TOKEN_NAME_MAX,
    USAGE_BUCKETS_MAX,
)
from tokens_server.domain.models import StatusFilter, TokenSort

__all__ = [
    "BULK_IDS_MAX",
    "DEFAULT_PAGE_SIZE",
    "DESCRIPTION_MAX",
    "FEED_SILENCE_MAX",
    "GRACES",
    "GUID_FILTER_MIN",
    "GUID_PATTERN",
    "LIST_DAYS_MAX",
    "NAME_MAX",
    "PAGE_SIZES",
    "PAGE_SIZE_MAX",
    "SORT_KEYS",
    "STATUS_FILTERS",
    "USAGE_BUCKETS_MAX",
    "VALID_FROM_SKEW",
    "SortKey",
    "StatusFilter",
    "for_browser",
]

SortKey = TokenSort
SORT_KEYS: Final[tuple[SortKey, ...]] = get_args(TokenSort)
STATUS_FILTERS: Final[tuple[StatusFilter, ...]] = get_args(StatusFilter)
# The page sizes the pager offers, all within the server's page size limit.
PAGE_SIZES: Final = (10, 25, 50, 100, 200)
DEFAULT_PAGE_SIZE: Final = PAGE_SIZE_DEFAULT
# How long a replaced GUID may keep working, as the form offers it (seconds: words), all within
# the server's longest grace.
GRACES: Final = {0: "No", 3600: "1 hour", 86400: "1 day", 7 * 86400: "7 days"}
assert max(GRACES) <= GRACE_MAX_S
NAME_MAX: Final = TOKEN_NAME_MAX
VALID_FROM_SKEW: Final = CLOCK_SKEW
# The change feed sends at least a comment this often; three missed mean the connection died
# unannounced (a sleeping laptop, a proxy that dropped it).
FEED_SILENCE_MAX: Final = 3 * HEARTBEAT_S


def for_browser() -> dict[str, Any]:
    """The limits the browser needs to draw its controls, as JSON."""
    return {
        "page_sizes": list(PAGE_SIZES),
        "guid_filter_min": GUID_FILTER_MIN,
        "name_max": NAME_MAX,
        "description_max": DESCRIPTION_MAX,
        "graces": [{"seconds": seconds, "label": label} for seconds, label in GRACES.items()],
        # The sorts the server offers: a column is sortable when its key is one of them.
        "sorts": list(get_args(SortKey)),
        # How many tokens one bulk revoke or delete takes, so the page can say so.
        "bulk_ids_max": BULK_IDS_MAX,
    }
