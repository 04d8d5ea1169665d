"""The widget keeps its page current from the change feed: a reload per burst of events, the
Live mark's states, and a word to an open dialog whose token someone else changed.

The widget is fed events by hand through a stand-in for ``TokensClient.events``;
test_live_stream.py follows the real server's ``GET /events/stream``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.widget.front_end import act, front_end_of
from tokens_widget import ApiError, Event, TokensClient, TokensWidget
from tokens_widget.live import RELOAD_GAP
from tokens_widget.live_events import ConnectionListener


async def eventually(check: Callable[[], bool], within: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        assert loop.time() < deadline, "not within the time allowed"
        await asyncio.sleep(0.02)


class HandFedFeed:
    """Stands in for ``TokensClient.events``: yields what the test puts in, says up or down."""

    def __init__(self) -> None:
        self.items: asyncio.Queue[Event | bool | Exception] = asyncio.Queue()
        self.followers = 0
        self.closed = 0

    def events(
        self, after: int | None = None, *, on_connection: ConnectionListener | None = None
    ) -> AsyncGenerator[Event, None]:
        self.followers += 1
        return self._run(on_connection)

    async def _run(self, on_connection: ConnectionListener | None) -> AsyncGenerator[Event, None]:
        try:
            while True:
                item = await self.items.get()
                if isinstance(item, bool):
                    assert on_connection is not None
                    on_connection(item)
                elif isinstance(item, Exception):
                    raise item
                else:
                    yield item
        finally:
            self.closed += 1


def token_event(token_id: str, action: str = "token.updated", actor: str = "bob") -> Event:
    return Event(
        id=1,
        at=datetime.now(UTC),
        actor=actor,
        action=action,
        token_id=token_id,
        token_name="x",
    )


@pytest.fixture
def feed(widget: TokensWidget, monkeypatch: pytest.MonkeyPatch) -> HandFedFeed:
    fed = HandFedFeed()
    monkeypatch.setattr(widget.client, "events", fed.events)
    return fed


def count_reloads(widget: TokensWidget, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    assert widget.client is not None
    calls: list[int] = []
    original = widget.client.list_tokens

    async def counting(**kwargs: Any) -> Any:
        if "offset" in kwargs:  # a page, not the count of tokens about to expire
            calls.append(1)
        return await original(**kwargs)

    monkeypatch.setattr(widget.client, "list_tokens", counting)
    return calls


async def test_a_shown_widget_follows_the_feed_and_its_mark_says_whether_it_is_up(
    widget: TokensWidget, feed: HandFedFeed, admin: TokensClient
) -> None:
    assert widget._live == ""
    await act(widget, "hello")
    await act(widget, "hello")  # a second view follows the same feed
    assert widget._live == "connecting" and feed.followers == 1
    # Made before the feed came up: the page is read again once it is up.
    await admin.create_token("Before the feed", ["analytics"])
    feed.items.put_nowait(True)
    await eventually(lambda: widget._live == "live")
    await eventually(lambda: [r["name"] for r in widget._rows] == ["Before the feed"])
    feed.items.put_nowait(False)
    await eventually(lambda: widget._live == "reconnecting")
    await widget.aclose()
    assert widget._live == "" and feed.closed == 1


async def test_a_burst_of_token_events_reloads_the_page_at_most_once_per_gap(
    widget: TokensWidget, feed: HandFedFeed, admin: TokensClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await act(widget, "hello")
    feed.items.put_nowait(True)
    await eventually(lambda: widget._live == "live")
    await widget.settled()
    reloads = count_reloads(widget, monkeypatch)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for n in range(30):
        token = await admin.create_token(f"Burst {n:02}", ["analytics"])
        feed.items.put_nowait(token_event(token.id, "token.created"))
    await eventually(lambda: widget.total == 30)
    await widget.settled()
    elapsed = loop.time() - started
    # The first event reloads at once, and after that no more often than every RELOAD_GAP.
    assert 1 <= len(reloads) <= 2 + elapsed / RELOAD_GAP, (len(reloads), elapsed)
    assert len(reloads) < 30


async def test_only_events_that_may_change_the_page_reload_it(
    widget: TokensWidget, feed: HandFedFeed, admin: TokensClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = await admin.create_token("Nightly ETL", ["analytics"])
    await act(widget, "hello")
    feed.items.put_nowait(True)
    await eventually(lambda: widget._live == "live")
    widget.name_filter, widget.scope_filter = "nightly", ["analytics"]
    await eventually(lambda: list(widget.page_tokens) == [shown.id])
    await widget.settled()
    reloads = count_reloads(widget, monkeypatch)

    def event(n: int, now_named: str, now_in: tuple[str, ...], **changes: Any) -> Event:
        return Event(
            id=n,
            at=datetime.now(UTC),
            actor="bob",
            action="token.updated",
            token_id=f"other-{n}",
            token_name=now_named,
            scopes=now_in,
            changes={field: {"from": old, "to": new} for field, (old, new) in changes.items()},
        )

    # Outside the filters before and after: the page stays as it is.
    feed.items.put_nowait(event(1, "Weekly report", ("analytics",)))
    feed.items.put_nowait(event(2, "Nightly ETL 2", ("ops",)))
    feed.items.put_nowait(event(3, "Nightly", ("ops",), scopes=(["billing"], ["ops"])))
    await eventually(feed.items.empty)
    await asyncio.sleep(0)  # the feed handles the last one it took
    assert widget.live._reload is None and reloads == []
    # Renamed into the filters, or moved out of its scope: either may change the page.
    renamed = event(4, "NIGHTLY build", ("analytics",), name=("Build", "NIGHTLY build"))
    feed.items.put_nowait(renamed)
    await eventually(lambda: len(reloads) == 1)
    await asyncio.sleep(2 * RELOAD_GAP)
    feed.items.put_nowait(event(5, "Nightly", ("ops",), scopes=(["analytics"], ["ops"])))
    await eventually(lambda: len(reloads) == 2)
    # A token on the page reloads it whatever it became.
    feed.items.put_nowait(token_event(shown.id, "token.deleted"))
    await eventually(lambda: len(reloads) == 3)
    await widget.aclose()


async def test_a_change_to_a_token_on_the_page_is_told_to_the_browser(
    widget: TokensWidget, feed: HandFedFeed, admin: TokensClient
) -> None:
    shown = await admin.create_token("Shown", ["analytics"])
    await act(widget, "refresh")
    await act(widget, "hello")
    feed.items.put_nowait(True)
    front = front_end_of(widget)
    feed.items.put_nowait(token_event("someone-elses-page", "token.updated"))
    feed.items.put_nowait(token_event(shown.id, "token.revoked", actor="bob"))
    told = lambda: [m for m in front.answers() if m.get("kind") == "token_changed"]  # noqa: E731
    await eventually(lambda: len(told()) == 1)
    message = told()[0]
    assert (message["token_id"], message["action"], message["actor"]) == (
        shown.id,
        "token.revoked",
        "bob",
    )
    assert datetime.fromisoformat(message["at"]).tzinfo is not None
    await widget.aclose()


async def test_a_change_to_the_callers_scopes_reloads_them_too(
    widget: TokensWidget, feed: HandFedFeed, admin: TokensClient
) -> None:
    await act(widget, "hello")
    feed.items.put_nowait(True)
    await eventually(lambda: widget._live == "live")
    await admin.create_scope("legal", "Legal holds")
    feed.items.put_nowait(
        Event(id=9, at=datetime.now(UTC), actor="admin", action="scope.created", scope="legal")
    )
    await eventually(lambda: "legal" in [s["name"] for s in widget._scopes])
    await widget.aclose()


@pytest.mark.parametrize(
    ("status", "state", "error"), [(401, "stopped", "did not accept your API key"), (404, "", "")]
)
async def test_a_refused_feed_stops_the_mark(
    widget: TokensWidget, feed: HandFedFeed, status: int, state: str, error: str
) -> None:
    await act(widget, "hello")
    feed.items.put_nowait(True)
    await eventually(lambda: widget._live == "live")
    await widget.settled()  # the reload on coming up, which would clear the error
    feed.items.put_nowait(ApiError(status, "Refused"))
    await eventually(lambda: widget._live == state)
    assert error in widget.error and (error or widget.error == "")
    # Shown again (the cell re-run, a new view), it tries again.
    await act(widget, "hello")
    assert feed.followers == 2
    await widget.aclose()
