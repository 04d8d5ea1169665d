"""The widget's Python side against the real server: synced state, rules and message handling.

Long because it covers every trait and every message the front end may send.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from traitlets import TraitError

from tests.support import ADMIN_KEY
from tests.widget.front_end import act, front_end_of, open_widget
from tokens_widget import TokensClient, TokensWidget

Calls = list[dict[str, Any]]


def count_list_calls(widget: TokensWidget, monkeypatch: pytest.MonkeyPatch) -> Calls:
    """Record every GET /tokens the widget makes, with its arguments."""
    assert widget.client is not None
    calls: Calls = []
    original = widget.client.list_tokens

    async def recording(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return await original(**kwargs)

    monkeypatch.setattr(widget.client, "list_tokens", recording)
    return calls


def names(widget: TokensWidget) -> list[str]:
    return [row["name"] for row in widget._rows]


MakeTokens = Callable[..., Awaitable[None]]


@pytest.fixture
def make_tokens(admin: TokensClient) -> MakeTokens:
    async def make(*specs: tuple[str, list[str]]) -> None:
        for name, scopes in specs:
            await admin.create_token(name, scopes)

    return make


async def test_first_load_shows_the_user_scopes_and_tokens(
    admin: TokensClient, make_tokens: MakeTokens, server_url: str
) -> None:
    await make_tokens(("Nightly ETL", ["analytics"]), ("Model training", ["ml"]))
    widget = open_widget(url=server_url, api_key=ADMIN_KEY)
    await widget.settled()
    assert widget._user == {"name": "admin", "admin": True}
    assert [s["name"] for s in widget._scopes] == ["analytics", "finance", "ml"]
    assert names(widget) == ["Model training", "Nightly ETL"]
    assert widget.total == 2 and widget._loaded and not widget.busy and widget.error == ""
    row = widget._rows[1]
    assert row["scopes"] == ["analytics"] and row["is_active"] and row["can_change"]
    assert row["valid_to"] is None
    assert datetime.fromisoformat(row["valid_from"]).tzinfo is not None
    await widget.aclose()


async def test_configuration_falls_back_to_the_environment(
    server_url: str, admin: TokensClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKENS_URL", server_url)
    monkeypatch.setenv("TOKENS_API_KEY", ADMIN_KEY)
    widget = open_widget()
    await widget.settled()
    assert widget._user["name"] == "admin"
    await widget.aclose()

    monkeypatch.delenv("TOKENS_URL")
    unconfigured = open_widget()
    assert unconfigured.client is None
    assert "TOKENS_URL" in unconfigured.error
    answer = await act(unconfigured, "save", draft={})
    assert answer["ok"] is False


async def test_a_wrong_key_is_explained(server_url: str, admin: TokensClient) -> None:
    widget = open_widget(url=server_url, api_key="not-a-key-0123456789")
    await widget.settled()
    assert widget.error.startswith("The server did not accept your API key")
    assert widget._rows == [] and not widget._loaded
    await widget.aclose()


async def test_typing_a_name_sends_one_request_for_the_final_text(
    widget: TokensWidget, make_tokens: MakeTokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The browser waits for the typing to pause; what reaches Python is one request a change,
    and a newer change drops an older one still waiting."""
    await make_tokens(
        ("Nightly ETL", ["analytics"]), ("Nightly export", ["ml"]), ("Hourly", ["ml"])
    )
    calls = count_list_calls(widget, monkeypatch)
    widget.page = 0
    for typed in ["n", "ni", "nig", "nigh", "night", "nightly etl"]:
        widget.name_filter = typed
    await widget.settled()
    assert [c["name"] for c in calls] == ["nightly etl"]
    assert names(widget) == ["Nightly ETL"] and widget.total == 1

    widget.page_size = 10
    widget.page = 1
    await widget.settled()
    calls.clear()
    widget.name_filter = "nightly"  # back to the first page: one reload, not two
    await widget.settled()
    assert [(c["name"], c["offset"]) for c in calls] == [("nightly", 0)]


async def test_guid_filter_needs_four_characters(
    widget: TokensWidget, admin: TokensClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await admin.create_token("Findable", ["analytics"])
    await admin.create_token("Other", ["analytics"])
    calls = count_list_calls(widget, monkeypatch)
    widget.guid_filter = token.guid[:3]
    await widget.settled()
    assert calls == [] and widget.filter_hint == "Type at least 4 characters of the GUID."
    widget.guid_filter = token.guid[:8].upper()
    await widget.settled()
    assert calls[-1]["guid"] == token.guid[:8]
    assert names(widget) == ["Findable"] and widget.filter_hint == ""


async def test_scope_and_status_filters(
    widget: TokensWidget, admin: TokensClient, make_tokens: MakeTokens
) -> None:
    await make_tokens(("ETL", ["analytics"]), ("Training", ["ml"]), ("Ledger", ["finance"]))
    widget.refresh()
    await widget.settled()
    widget.scope_filter = ["ml", "finance", "not-mine"]
    await widget.settled()
    assert widget.scope_filter == ["ml", "finance"]
    assert names(widget) == ["Ledger", "Training"]

    revoked = await admin.list_tokens(name="Ledger")
    await admin.revoke_token(revoked.items[0].id)
    widget.status_filter = "inactive"
    await widget.settled()
    assert names(widget) == ["Ledger"] and widget._rows[0]["status"] == "revoked"
    widget.status_filter = "active"
    await widget.settled()
    assert names(widget) == ["Training"]


async def test_sorting_by_name_and_by_is_active(
    widget: TokensWidget, admin: TokensClient, make_tokens: MakeTokens
) -> None:
    await make_tokens(("bravo", ["ml"]), ("Alpha", ["ml"]), ("charlie", ["ml"]))
    charlie = (await admin.list_tokens(name="charlie")).items[0]
    await admin.revoke_token(charlie.id)
    widget.sort = "-name"
    await widget.settled()
    assert names(widget) == ["charlie", "bravo", "Alpha"]
    widget.sort = "is_active"
    await widget.settled()
    assert names(widget) == ["charlie", "Alpha", "bravo"]
    widget.sort = "-is_active"
    await widget.settled()
    assert names(widget) == ["Alpha", "bravo", "charlie"]


async def test_paging_and_page_size(
    widget: TokensWidget, make_tokens: MakeTokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_tokens(*[(f"token {i:02}", ["analytics"]) for i in range(23)])
    widget.page_size = 10
    await widget.settled()
    assert widget.total == 23 and names(widget)[0] == "token 00" and len(widget._rows) == 10
    widget.page = 2
    await widget.settled()
    assert names(widget) == ["token 20", "token 21", "token 22"]
    widget.name_filter = "token"  # a new filter starts again at the first page
    await widget.settled()
    assert widget.page == 0 and names(widget)[0] == "token 00"
    with pytest.raises(TraitError, match="page_size"):
        widget.page_size = 7


async def test_a_page_change_costs_one_request_and_one_rows_update(
    widget: TokensWidget, make_tokens: MakeTokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_tokens(*[(f"Data pipeline token {i:03}", ["analytics", "ml"]) for i in range(120)])
    widget.refresh()
    await widget.settled()
    calls = count_list_calls(widget, monkeypatch)
    front = front_end_of(widget)
    front.sent.clear()
    widget.page = 1
    await widget.settled()
    sent = front.sent
    assert len(calls) == 1
    updates = front.state_updates()
    rows_updates = [u for u in updates if "_rows" in u]
    assert len(rows_updates) == 1 and len(rows_updates[0]["_rows"]) == 50
    size = sum(len(json.dumps(m)) for m in sent)
    logging.getLogger(__name__).info("page change: %d messages, %d bytes", len(sent), size)
    assert size < 30_000, size  # 50 rows of about 450 bytes each, plus busy on/off


async def test_create_through_a_message(
    widget: TokensWidget, monkeypatch: pytest.MonkeyPatch
) -> None:
    guid = (await act(widget, "new_guid"))["result"]["guid"]
    until = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    draft = {
        "name": " Nightly ETL ",
        "scopes": ["analytics"],
        "guid": guid,
        "description": "loads the warehouse",
        "valid_from": "",
        "valid_to": until,
    }
    assert (await act(widget, "validate", draft=draft))["result"] == {"valid": True, "errors": {}}
    rows_before = widget._rows
    answer = await act(widget, "save", draft=draft)
    assert answer["ok"], answer
    assert widget._rows is not rows_before  # a new list, so the front end redraws
    [row] = widget._rows
    assert (row["name"], row["guid"], row["description"]) == (
        "Nightly ETL",
        guid,
        "loads the warehouse",
    )
    assert widget.notice == "Token “Nightly ETL” created."


async def test_an_invalid_draft_is_refused_with_field_errors(widget: TokensWidget) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    draft = {"name": "", "scopes": [], "guid": "nope", "valid_from": past}
    verdict = (await act(widget, "validate", draft=draft))["result"]
    assert not verdict["valid"]
    assert set(verdict["errors"]) == {"name", "scopes", "guid", "valid_from"}
    answer = await act(widget, "save", draft=draft)
    assert answer["ok"] is False and set(answer["fields"]) == set(verdict["errors"])
    assert widget._rows == []


async def test_a_duplicate_guid_is_a_plain_conflict(
    widget: TokensWidget, admin: TokensClient
) -> None:
    taken = await admin.create_token("Taken", ["analytics"])
    answer = await act(widget, "save", draft={"name": "Copy", "scopes": ["ml"], "guid": taken.guid})
    assert answer["ok"] is False
    assert answer["error"].startswith("That cannot be done:")


async def test_edit_sends_the_version_seen_and_explains_a_concurrent_change(
    widget: TokensWidget, admin: TokensClient
) -> None:
    token = await admin.create_token("Nightly ETL", ["analytics"])
    widget.refresh()
    await widget.settled()
    row = widget._rows[0]
    draft = {
        "name": "Nightly ETL v2",
        "scopes": row["scopes"],
        "guid": row["guid"],
        "description": "",
        "valid_from": row["valid_from"],
        "valid_to": "",
    }
    await admin.update_token(token.id, description="changed by someone else")
    answer = await act(widget, "save", token_id=row["id"], version=row["version"], draft=draft)
    assert answer["ok"] is False
    assert answer["error"].startswith("Someone else changed this token")
    assert widget._rows[0]["description"] == "changed by someone else"  # refreshed

    row = widget._rows[0]
    draft["description"] = row["description"]
    answer = await act(widget, "save", token_id=row["id"], version=row["version"], draft=draft)
    assert answer["ok"], answer
    assert widget._rows[0]["name"] == "Nightly ETL v2" and widget._rows[0]["version"] == 3


async def test_revoke_then_revoke_again(widget: TokensWidget, admin: TokensClient) -> None:
    await admin.create_token("Nightly ETL", ["analytics"])
    widget.refresh()
    await widget.settled()
    row = widget._rows[0]
    before = widget._rows
    answer = await act(widget, "revoke", token_id=row["id"], version=row["version"])
    assert answer["ok"], answer
    assert widget._rows is not before
    assert widget._rows[0]["is_active"] is False and widget._rows[0]["status"] == "revoked"
    again = await act(widget, "revoke", token_id=row["id"], version=widget._rows[0]["version"])
    assert again == {
        "id": "t:revoke",
        "ok": False,
        "error": "This token is already inactive.",
        "fields": {},
    }


async def test_delete_and_a_token_deleted_elsewhere(
    widget: TokensWidget, admin: TokensClient
) -> None:
    first = await admin.create_token("First", ["analytics"])
    await admin.create_token("Second", ["analytics"])
    widget.refresh()
    await widget.settled()
    rows = {row["name"]: row for row in widget._rows}
    await admin.delete_token(first.id)
    gone = await act(widget, "delete", token_id=rows["First"]["id"], version=1)
    assert gone["ok"] is False and gone["error"].startswith("This token no longer exists")
    assert names(widget) == ["Second"]
    deleted = await act(widget, "delete", token_id=rows["Second"]["id"], version=1)
    assert deleted["ok"] and widget._rows == [] and widget.total == 0


async def test_a_user_sees_only_tokens_sharing_a_scope(
    admin: TokensClient, server_url: str
) -> None:
    user = await admin.create_user("alice", ["analytics"])
    await admin.create_token("Shared", ["analytics", "ml"])
    await admin.create_token("Hidden", ["ml"])
    await admin.create_token("Mine", ["analytics"])
    widget = open_widget(url=server_url, api_key=user.api_key)
    await widget.settled()
    assert [s["name"] for s in widget._scopes] == ["analytics"]
    assert {r["name"]: r["can_change"] for r in widget._rows} == {"Mine": True, "Shared": False}
    shared = next(r for r in widget._rows if r["name"] == "Shared")
    answer = await act(widget, "delete", token_id=shared["id"], version=shared["version"])
    assert answer["error"] == "You do not hold every scope of this token, so you cannot change it."
    refused = await act(widget, "validate", draft={"name": "x", "scopes": ["ml"], "guid": ""})
    assert refused["result"]["errors"]["scopes"] == "You do not hold the scope ml."
    await widget.aclose()


async def test_busy_is_shown_while_a_call_runs(widget: TokensWidget) -> None:
    seen: list[bool] = []
    widget.observe(lambda change: seen.append(change["new"]), "busy")
    widget.refresh()
    await widget.settled()
    assert seen == [True, False]


async def test_unknown_actions_and_broken_messages_are_answered(widget: TokensWidget) -> None:
    answer = await act(widget, "launch")
    assert answer == {
        "id": "t:launch",
        "ok": False,
        "error": "Unknown action 'launch'.",
        "fields": {},
    }
    refreshed = await act(widget, "refresh")
    assert refreshed["ok"] is True


async def test_messages_from_a_kernel_subshell_run_on_the_widgets_own_loop(
    widget: TokensWidget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """JupyterLab delivers widget messages on a kernel subshell: another thread and event loop.

    Run there, the save used the client's connection from a foreign loop and failed ("Timeout
    context manager should be used inside a task"); the widget hands such work back to its loop.
    """
    home = asyncio.get_running_loop()
    assert widget.client is not None
    loops: list[asyncio.AbstractEventLoop] = []
    create = widget.client.create_token

    async def recording(*args: Any, **kwargs: Any) -> Any:
        loops.append(asyncio.get_running_loop())
        return await create(*args, **kwargs)

    monkeypatch.setattr(widget.client, "create_token", recording)
    draft = {
        "name": "From a subshell",
        "scopes": ["ml"],
        "guid": str(uuid.uuid4()),
        "description": "",
        "valid_from": "",
        "valid_to": "",
    }
    message = {"id": "s:save", "action": "save", "draft": draft}

    async def subshell() -> None:
        front_end_of(widget).deliver(message)
        widget.name_filter = "subshell"  # a filter typed in the page arrives the same way

    await asyncio.to_thread(asyncio.run, subshell())
    await asyncio.sleep(0)  # the hand-over callbacks run on this loop's next turn
    await widget.settled()
    assert loops == [home]
    answers = front_end_of(widget).answers()
    assert answers and answers[0]["ok"], answers
    assert names(widget) == ["From a subshell"]
