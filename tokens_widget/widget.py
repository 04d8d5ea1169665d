"""``TokensWidget``: the API Tokens page as a notebook widget.

Python owns the state, the rules and every call to the server; ``static/widget.js`` only renders
it. Filter, sort and page are synced traits; actions arrive as custom messages carrying an id,
answered with the same id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anywidget
import traitlets as t

from . import limits
from .actions import ActionHandler
from .client import TokensClient
from .connection import API_KEY_VARIABLE, URL_VARIABLE, from_environment
from .errors import ApiError, plain_words
from .home_loop import HomeLoop, on_home_loop
from .limits import GUID_FILTER_MIN, PAGE_SIZES
from .live import LiveFeed
from .models import Token, User
from .rows import token_row
from .selection import Selection

log = logging.getLogger(__name__)
# The status filter's choices besides "all", typed as the client takes them.
_STATUS: dict[str, limits.StatusFilter] = {status: status for status in limits.STATUS_FILTERS}
STATIC = Path(__file__).parent / "static"


class TokensWidget(anywidget.AnyWidget):
    """List, create, edit, revoke and delete API tokens.

    ``url`` and ``api_key`` default to the ``TOKENS_URL`` and ``TOKENS_API_KEY`` variables.
    """

    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"

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

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        client: TokensClient | None = None,
        **kwargs: Any,
    ) -> None:
        # Plain attributes first: trait observers may run while the base class initialises.
        self.home = HomeLoop()
        self._reload_task: asyncio.Task[None] | None = None
        self._busy_count = 0
        self._count_due = True
        self.user: User | None = None
        #: The tokens of the page shown, by id.
        self.page_tokens: dict[str, Token] = {}
        self.selection = Selection(self)
        url, api_key = from_environment(url, api_key)
        self.client: TokensClient | None = client
        if client is None and url and api_key:
            self.client = TokensClient(url, api_key)
        super().__init__(**kwargs)
        if self.client is None:
            self.error = (
                f"No server configured. Pass url= and api_key=, or set {URL_VARIABLE} and "
                f"{API_KEY_VARIABLE}, then run this cell again."
            )
        self._actions = ActionHandler(self)
        self.live = LiveFeed(self)
        self.on_msg(self._on_message)
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop()
            self.refresh()

    # --- validation of the synced state -----------------------------------------------------

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

    # --- reacting to the front end -----------------------------------------------------------

    @t.observe("selected")
    def _on_selected(self, change: Mapping[str, Any]) -> None:
        self.selection.changed()

    @t.validate("expiry_warning_days")
    def _valid_expiry_warning_days(self, proposal: Any) -> int:
        days = int(proposal["value"])
        if not 1 <= days <= limits.LIST_DAYS_MAX:
            raise t.TraitError(f"expiry_warning_days must be 1 to {limits.LIST_DAYS_MAX}")
        return days

    @t.observe(
        "name_filter",
        "guid_filter",
        "scope_filter",
        "status_filter",
        "sort",
        "page_size",
        "expiring_only",
        "expiry_warning_days",
    )
    def _on_filter(self, change: Mapping[str, Any]) -> None:
        # A new filter starts again at the first page. The browser already waited for the
        # typing to pause, so each change is one reload.
        # The count of tokens about to expire does not depend on the filters, the sort or the
        # page: it is asked again only when its number of days changes (or the tokens do).
        recount = change["name"] == "expiry_warning_days"
        # Sort and page size show the same tokens in another order; every other one of these
        # changes which tokens match, and "all matching" would then name tokens not shown.
        if change["name"] not in ("sort", "page_size"):
            self.selection.clear()
        if self.page != 0:
            self._count_due = self._count_due or recount
            self.page = 0  # the page observer reloads
        else:
            self._schedule_reload(recount=recount)

    @t.observe("page")
    def _on_page(self, change: Mapping[str, Any]) -> None:
        self._schedule_reload(recount=False)

    @on_home_loop
    def _on_message(self, widget: Any, content: Any, buffers: list[bytes]) -> None:
        if isinstance(content, Mapping):
            self.spawn(self._actions.handle(content))

    # --- running work on the kernel's event loop --------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` on the kernel's event loop without blocking the kernel."""
        return self.home.spawn(coro)

    async def settled(self) -> None:
        """Wait until every call the widget started has finished (for tests and scripts)."""
        await self.home.settled()

    @contextlib.asynccontextmanager
    async def working(self) -> AsyncIterator[None]:
        """Show the busy indicator while the block runs."""
        self._busy_count += 1
        self.busy = True
        try:
            yield
        finally:
            self._busy_count -= 1
            self.busy = self._busy_count > 0

    # --- loading -----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload the caller, its scopes and the current page (in the background)."""
        self._schedule_reload(with_user=True)

    @on_home_loop  # a filter or page changed in the browser arrives on a subshell too
    def _schedule_reload(
        self, with_user: bool = False, recount: bool = True
    ) -> asyncio.Task[None] | None:
        if self.client is None:
            return None
        # Kept until a load has counted: a reload dropped for a newer one passes it on.
        self._count_due = self._count_due or recount
        with_user = with_user or not self._loaded
        if self._reload_task is not None and not self._reload_task.done():
            # The newest request wins; an older one still waiting or running is dropped.
            self._reload_task.cancel()
        task = self.spawn(self._reload(with_user))
        self._reload_task = task
        return task

    async def _reload(self, with_user: bool) -> None:
        async with self.working():
            try:
                if with_user:
                    await self._load_user()
                await self._load_page()
            except ApiError as exc:
                self.error = plain_words(exc)

    async def _load_user(self) -> None:
        assert self.client is not None
        self.user = await self.client.me()
        scopes = await self.client.list_scopes()
        self._user = {"name": self.user.name, "admin": self.user.admin}
        self._scopes = [{"name": s.name, "description": s.description} for s in scopes]
        held = {s.name for s in scopes}
        kept = [s for s in self.scope_filter if s in held]
        if kept != self.scope_filter:
            with self.hold_trait_notifications():
                self.scope_filter = kept

    async def _load_page(self) -> None:
        assert self.client is not None
        guid = self.guid_filter.strip().lower()
        if guid and len(guid) < GUID_FILTER_MIN:
            self.filter_hint = f"Type at least {GUID_FILTER_MIN} characters of the GUID."
            return
        self.filter_hint = ""
        page = await self.client.list_tokens(
            **self.list_filters(), limit=self.page_size, offset=self.page * self.page_size
        )
        if not page.items and page.total and self.page > 0:
            # The page emptied (deletions elsewhere): show the last page that has rows.
            last = (page.total - 1) // self.page_size
            self.page = last  # the observer loads it
            return
        self.page_tokens = {token.id: token for token in page.items}
        # A new list object every time: a list trait syncs only when its value is replaced.
        now = datetime.now(UTC)
        self._rows = [token_row(token, now, self.expiry_warning_days) for token in page.items]
        self.total = page.total
        if self._count_due:
            soon = await self.client.list_tokens(expires_within=self.expiry_warning_days, limit=1)
            self.expiring = soon.total
            self._count_due = False
        self._loaded = True
        self.error = ""

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

    def close(self) -> None:
        """Close the view and, on a running event loop, the connection to the server."""
        if hasattr(self, "live"):  # close() may run from a failed __init__
            self.live.stop()
        client, self.client = self.client, None
        if client is not None:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop()
                self.spawn(client.close())
        super().close()

    async def aclose(self) -> None:
        """Close the widget and wait until its connection to the server is closed."""
        self.close()
        await self.settled()
