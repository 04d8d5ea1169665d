"""The widget's synced state: the traits the browser reads and writes, and their validation.

``TokensWidget`` (``widget.py``) adds what happens when they change: loading, the front end's
messages, the change feed. Kept apart so the state and its rules read in one place.
"""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets as t

from . import limits
from .limits import PAGE_SIZES

# The status filter's choices besides "all", typed as the client takes them.
_STATUS: dict[str, limits.StatusFilter] = {status: status for status in limits.STATUS_FILTERS}


class SyncedState(anywidget.AnyWidget):
    """Filter, sort, page, selection and what the page shows, as synced traits."""

    name_filter = t.Unicode("", help="Keywords that must all occur in the name.").tag(sync=True)
    guid_filter = t.Unicode("", help="The first characters of a GUID (4 or more).").tag(sync=True)
    scope_filter = t.List(t.Unicode(), help="Show tokens having any of these scopes.").tag(
        sync=True
    )
    status_filter = t.Enum(("all", *limits.STATUS_FILTERS), "all").tag(sync=True)
    sort = t.Enum(limits.SORT_KEYS, "name", help="Column to sort by; '-' descends.").tag(sync=True)
    page = t.Int(0, help="Zero-based page number.").tag(sync=True)
    page_size = t.Int(limits.DEFAULT_PAGE_SIZE, help=f"Rows per page, one of {PAGE_SIZES}.").tag(
        sync=True
    )

    expiry_warning_days = t.Int(
        7, help="Mark active tokens that expire within this many days, and count them."
    ).tag(sync=True)
    expiring_only = t.Bool(
        False, help="Show only the active tokens that expire within expiry_warning_days."
    ).tag(sync=True)
    expiring = t.Int(0, help="How many active tokens expire within expiry_warning_days.").tag(
        sync=True
    )

    selected = t.List(
        t.Unicode(),
        help="The ids of the tokens picked for a bulk revoke or delete, in the order picked.",
    ).tag(sync=True)

    total = t.Int(0, help="How many tokens match the filters.").tag(sync=True)
    busy = t.Bool(False, help="True while a call to the server runs.").tag(sync=True)
    error = t.Unicode("", help="The last problem, in plain words.").tag(sync=True)
    notice = t.Unicode("", help="The last thing done, in plain words.").tag(sync=True)
    filter_hint = t.Unicode("").tag(sync=True)
    _rows = t.List(t.Dict()).tag(sync=True)
    # The page's usage (``page_usage.py``): {"days": [UTC dates], "tokens": {id: counts}}.
    _usage = t.Dict().tag(sync=True)
    _scopes = t.List(t.Dict()).tag(sync=True)
    _user = t.Dict().tag(sync=True)
    _loaded = t.Bool(False).tag(sync=True)
    _limits = t.Dict(limits.for_browser()).tag(sync=True)
    # The selection as the bar and the confirmation word it: "alpha, beta and 3 more"; whether it
    # is "all matching" (the link to it then hides) and what that left out.
    _selection_summary = t.Unicode("").tag(sync=True)
    _all_matching = t.Bool(False).tag(sync=True)
    _selection_note = t.Unicode("").tag(sync=True)
    _live = t.Unicode("", help="The change feed: '', connecting, live, reconnecting, stopped.").tag(
        sync=True
    )

    @t.validate("page")
    def _valid_page(self, proposal: Any) -> int:
        return max(0, int(proposal["value"]))

    @t.validate("page_size")
    def _valid_page_size(self, proposal: Any) -> int:
        size = int(proposal["value"])
        if size not in PAGE_SIZES:
            raise t.TraitError(f"page_size must be one of {PAGE_SIZES}, not {size}")
        return size

    @t.validate("scope_filter")
    def _valid_scope_filter(self, proposal: Any) -> list[str]:
        # Only the caller's own scopes may be asked for; anything else would be a 422.
        held = {s["name"] for s in self._scopes}
        wanted = list(dict.fromkeys(str(s) for s in proposal["value"]))
        return [s for s in wanted if s in held] if held else wanted

    @t.validate("selected")
    def _valid_selected(self, proposal: Any) -> list[str]:
        ids = list(dict.fromkeys(str(i) for i in proposal["value"]))
        if len(ids) > limits.BULK_IDS_MAX:
            raise t.TraitError(f"at most {limits.BULK_IDS_MAX} tokens can be selected at once")
        return ids

    @t.validate("expiry_warning_days")
    def _valid_expiry_warning_days(self, proposal: Any) -> int:
        days = int(proposal["value"])
        if not 1 <= days <= limits.LIST_DAYS_MAX:
            raise t.TraitError(f"expiry_warning_days must be 1 to {limits.LIST_DAYS_MAX}")
        return days

    def list_filters(self) -> dict[str, Any]:
        """The list's filters and sort, as ``TokensClient.list_tokens`` takes them."""
        return {
            "name": self.name_filter,
            "guid": self.guid_filter.strip().lower(),
            "scopes": self.scope_filter,
            "status": _STATUS.get(self.status_filter),
            "sort": self.sort,
            "expires_within": self.expiry_warning_days if self.expiring_only else None,
        }
