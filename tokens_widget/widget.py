"""``TokensWidget``: the API Tokens page as a notebook widget.

Python owns the state, the rules and every call to the server; ``static/widget.js`` only renders
it. Filter, sort and page are synced traits (``state.py``); actions arrive as custom messages
carrying an id, answered with the same id. The helpers (actions, selection, change feed) are
handed this widget as the small protocol each declares, so none of them imports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import traitlets as t

from .actions import ActionHandler
from .client import TokensClient
from .connection import API_KEY_VARIABLE, URL_VARIABLE, from_environment
from .errors import ApiError, plain_words
from .home_loop import HomeLoop, on_home_loop
from .limits import GUID_FILTER_MIN
from .live import LiveFeed
from .models import Token, User
from .page_usage import PageUsage
from .rows import token_row
from .selection import Selection
from .state import SyncedState

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


class TokensWidget(SyncedState):
    """List, create, edit, revoke and delete API tokens.

    ``url`` and ``api_key`` default to the ``TOKENS_URL`` and ``TOKENS_API_KEY`` variables.
    """

    # One module: the usage parts are appended to the rest (see the head of widget.js).
    _esm = "\n".join((STATIC / name).read_text() for name in ("widget.js", "usage.js"))
    _css = STATIC / "widget.css"

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
        self.live = LiveFeed(self)
        self.usage = PageUsage(self)
        self._actions = ActionHandler(
            self,
            follow_changes=self._follow_changes,
            more={**self.selection.actions(), **self.usage.actions()},
        )
        self.on_msg(self._on_message)
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop()
            self.refresh()

    # --- reacting to the front end -----------------------------------------------------------

    @t.observe("selected")
    def _on_selected(self, change: Mapping[str, Any]) -> None:
        self.selection.changed()

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

    def _follow_changes(self) -> None:
        # A view is shown: follow the change feed, and the usage counts (which it does not carry).
        self.live.start()
        self.usage.start()

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
        usage = await self.usage.read([token.id for token in page.items])
        self.page_tokens = {token.id: token for token in page.items}
        # A new list object every time: a list trait syncs only when its value is replaced.
        now = datetime.now(UTC)
        with self.hold_sync():  # the rows and their usage reach the browser together
            self.usage.show(usage)
            self._rows = [token_row(token, now, self.expiry_warning_days) for token in page.items]
            self.total = page.total
        if self._count_due:
            soon = await self.client.list_tokens(expires_within=self.expiry_warning_days, limit=1)
            self.expiring = soon.total
            self._count_due = False
        self._loaded = True
        self.error = ""

    def close(self) -> None:
        """Close the view and, on a running event loop, the connection to the server."""
        if hasattr(self, "usage"):  # close() may run from a failed __init__
            self.live.stop()
            self.usage.stop()
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
