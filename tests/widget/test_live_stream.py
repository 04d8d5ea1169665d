"""The widget and the client against the real change feed, ``GET /events/stream``: a change made
elsewhere reaches the page without Refresh, and the feed resumes after the last event seen."""

from __future__ import annotations

from tests.support import ADMIN_KEY
from tests.widget.front_end import act, front_end_of, open_widget
from tests.widget.test_live_widget import eventually
from tokens_widget import Event, TokensClient


async def test_a_change_made_elsewhere_appears_without_refresh(
    server_url: str, admin: TokensClient
) -> None:
    analyst = await admin.create_user("analyst", ["analytics"])
    widget = open_widget(url=server_url, api_key=analyst.api_key)
    await widget.settled()
    await act(widget, "hello")
    await eventually(lambda: widget._live == "live", within=5)
    token = await admin.create_token("Made by the admin", ["analytics"])
    await admin.create_token("Not the analyst's", ["finance"])
    await eventually(lambda: [r["name"] for r in widget._rows] == ["Made by the admin"], 2)
    await act(widget, "refresh")  # nothing else was missed
    front = front_end_of(widget)
    await admin.update_token(token.id, name="Renamed by the admin")
    await eventually(lambda: [r["name"] for r in widget._rows] == ["Renamed by the admin"], 2)
    told = [m for m in front.answers() if m.get("kind") == "token_changed"]
    assert [(m["token_id"], m["actor"]) for m in told] == [(token.id, "admin")]
    await widget.aclose()


async def test_the_real_feed_resumes_after_the_last_event(
    server_url: str, admin: TokensClient
) -> None:
    start = (await admin.list_events()).next
    seen: list[Event] = []
    async with TokensClient(server_url, ADMIN_KEY) as client:
        feed = client.events(after=start)
        made = [await admin.create_token(f"Resume {n}", ["ml"]) for n in range(3)]
        async for event in feed:
            seen.append(event)
            if len(seen) == 3:
                break
        await feed.aclose()
    assert [e.token_id for e in seen] == [t.id for t in made]
    assert [e.action for e in seen] == ["token.created"] * 3
