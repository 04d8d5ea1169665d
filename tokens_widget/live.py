"""The widget follows the server's change feed while it is shown, and stays current by itself.

The kernel reads the feed (``TokensClient.events``), never the browser. A token event may change
the page on screen when it is about a token on it, or about one that matched the filters before
the change or after (it may enter or leave the page, or move the ones on it), so the page is
reloaded: once for a burst of events, at most once per RELOAD_GAP. Any other token event leaves
the page as it is. An event about a token on the page is
also told to the browser, so a dialog open on that token can say who changed it rather than be
overwritten. The ``_live`` trait drives the header's Live mark.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from tokens_server.domain.names import search_key

from .errors import ApiError, plain_words
from .history import summary
from .models import Event, Token, User

if TYPE_CHECKING:
    from .client import TokensClient

log = logging.getLogger(__name__)

RELOAD_GAP: Final = 0.25
#: What the Live mark shows: not following, connecting, up, down and retrying, or given up.
LiveState = Literal["", "connecting", "live", "reconnecting", "stopped"]
# The kind of message that tells the browser a token on the page changed.
CHANGED_KIND: Final = "token_changed"


class FeedHost(Protocol):
    """What the feed uses of its widget (``TokensWidget`` is one). The underscored members are
    the widget's own, shared with its helpers only."""

    error: str
    _live: str
    name_filter: str
    scope_filter: list[str]

    @property
    def client(self) -> TokensClient | None: ...
    @property
    def user(self) -> User | None: ...
    @property
    def page_tokens(self) -> Mapping[str, Token]: ...
    @property
    def _reload_task(self) -> asyncio.Task[None] | None: ...
    def _schedule_reload(self, with_user: bool = ...) -> asyncio.Task[None] | None: ...
    def send(self, content: Mapping[str, Any]) -> None: ...
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...


class LiveFeed:
    """Follows the change feed for one widget, from ``start()`` until ``stop()``."""

    def __init__(self, widget: FeedHost) -> None:
        self.widget = widget
        self._follower: asyncio.Task[None] | None = None
        self._reload: asyncio.Task[None] | None = None
        self._with_user = False
        self._last_reload = float("-inf")

    @property
    def running(self) -> bool:
        return self._follower is not None and not self._follower.done()

    def start(self) -> None:
        """Follow the feed (again), unless already following; call on the widget's loop."""
        client = self.widget.client
        if client is None or self.running:
            return
        self._set("connecting")
        # Not one of the widget's settled() tasks: it runs until stopped.
        self._follower = asyncio.get_running_loop().create_task(self._follow())

    def stop(self) -> None:
        for task in (self._follower, self._reload):
            if task is not None:
                task.cancel()
        self._follower = self._reload = None
        self._set("")

    async def _follow(self) -> None:
        client = self.widget.client
        assert client is not None
        try:
            async for event in client.events(on_connection=self._on_connection):
                self._on_event(event)
        except ApiError as exc:
            if exc.status == 404:
                # A server without a change feed: the grid works as before, without the mark.
                self._set("")
                return
            self._set("stopped")
            self.widget.error = plain_words(exc)
        except Exception:
            log.exception("the tokens widget stopped following the change feed")
            self._set("stopped")

    def _set(self, state: LiveState) -> None:
        self.widget._live = state

    def _on_connection(self, up: bool) -> None:
        self._set("live" if up else "reconnecting")
        if up:
            # Changes made while it was down (or before it first came up) are not replayed to a
            # feed that never saw an event: the page is read again instead.
            self.reload_soon()

    def _on_event(self, event: Event) -> None:
        if event.action.startswith("token."):
            on_page = event.token_id in self.widget.page_tokens
            if on_page:
                self.widget.send(
                    {
                        "kind": CHANGED_KIND,
                        "token_id": event.token_id,
                        "action": event.action,
                        "summary": summary(event),
                        "actor": event.actor,
                        "at": event.at.isoformat(),
                    }
                )
            if on_page or self._matched(event):
                self.reload_soon()
        elif event.action.startswith("scope.") or (
            self.widget.user is not None and event.user == self.widget.user.name
        ):
            # The caller's own scopes may have changed: the filter's choices, and what it sees.
            self.reload_soon(with_user=True)

    def _matched(self, event: Event) -> bool:
        """Whether the token matched the name and scope filters before the event or after."""
        keywords = search_key(self.widget.name_filter).split()
        wanted = set(self.widget.scope_filter)
        for name, scopes in _before_and_after(event):
            named = name is not None and all(word in search_key(name) for word in keywords)
            if named and (not wanted or not wanted.isdisjoint(scopes)):
                return True
        return False

    def reload_soon(self, *, with_user: bool = False) -> None:
        """Reload the page once for every event until then, no sooner than RELOAD_GAP after the
        last reload began."""
        self._with_user = self._with_user or with_user
        if self._reload is not None and not self._reload.done():
            return
        loop = asyncio.get_running_loop()
        wait = max(0.0, self._last_reload + RELOAD_GAP - loop.time())
        self._reload = self.widget.spawn(self._reload_after(wait))

    async def _reload_after(self, wait: float) -> None:
        await asyncio.sleep(wait)
        running = self.widget._reload_task
        if running is not None and not running.done():
            # Let a reload already under way finish: a newer one would cancel it, and a steady
            # stream of events would then never let one through.
            await asyncio.wait({running})
        with_user, self._with_user = self._with_user, False
        self._last_reload = asyncio.get_running_loop().time()
        # Events from now on ask for another reload: this one may read the page before them.
        self._reload = None
        task = self.widget._schedule_reload(with_user=with_user)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _before_and_after(event: Event) -> list[tuple[str | None, tuple[str, ...]]]:
    """The token's name and scopes as the event found them and as it left them (those of a
    created token before it: none)."""
    after = (event.token_name, event.scopes)
    if event.action == "token.created":
        return [after]
    name, scopes = event.changes.get("name"), event.changes.get("scopes")
    before = (
        event.token_name if name is None else name.from_,
        event.scopes if scopes is None else tuple(scopes.from_ or ()),
    )
    return [before, after]
