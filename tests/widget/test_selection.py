"""Bulk actions from the widget's Python side: picking rows, all matching, the confirmation's
words, and revoke or delete of the selection against the real server."""

from __future__ import annotations

import pytest
from bson import ObjectId

from tests.widget.front_end import act, open_widget
from tokens_widget import TokensClient, TokensWidget, selection
from tokens_widget.errors import ApiError
from tokens_widget.limits import BULK_IDS_MAX


async def _tokens(admin: TokensClient, count: int, scopes: list[str] | None = None) -> list[str]:
    """``count`` tokens named T00, T01, …; their ids in name order."""
    made = [await admin.create_token(f"T{i:02}", scopes or ["analytics"]) for i in range(count)]
    return [token.id for token in made]


async def _reloaded(widget: TokensWidget) -> None:
    widget.refresh()
    await widget.settled()


async def test_the_client_answers_each_outcome_typed(admin: TokensClient) -> None:
    first, second = await _tokens(admin, 2)
    await admin.revoke_token(second)
    unknown = str(ObjectId())
    result = await admin.bulk_revoke([first, second, unknown])
    assert [(i.id, i.outcome) for i in result.results] == [
        (first, "revoked"),
        (second, "conflict"),
        (unknown, "not_found"),
    ]
    assert result.results[0].detail is None and result.results[1].detail
    assert (result.counts.revoked, result.counts.conflict, result.counts.not_found) == (1, 1, 1)
    assert result.ids("conflict") == [second]
    deleted = await admin.bulk_delete([first, second])
    assert deleted.ids("deleted") == [first, second] and deleted.counts.deleted == 2
    with pytest.raises(ApiError) as refused:
        await admin.bulk_delete([str(ObjectId()) for _ in range(BULK_IDS_MAX + 1)])
    assert refused.value.status == 422
    assert [e.field for e in refused.value.errors] == ["ids"]


async def test_picked_rows_survive_paging_and_go_when_the_filters_change(
    widget: TokensWidget, admin: TokensClient
) -> None:
    ids = await _tokens(admin, 12)
    widget.page_size = 10
    await widget.settled()
    assert (await act(widget, "select", token_ids=ids[:2], selected=True))["ok"]
    assert widget.selected == ids[:2]
    assert widget._selection_summary == "T00 and T01"
    widget.page = 1
    await widget.settled()
    await act(widget, "select", token_ids=ids[10:], selected=True)
    assert widget.selected == [*ids[:2], *ids[10:]]
    assert widget._selection_summary == "T00, T01, T10 and 1 more"
    await act(widget, "select", token_ids=[ids[11]], selected=False)
    assert widget.selected == [ids[0], ids[1], ids[10]]
    # An id not on the page shown is not picked: the browser only offers the rows it shows.
    await act(widget, "select", token_ids=[ids[5]], selected=True)
    assert widget.selected == [ids[0], ids[1], ids[10]]

    widget.sort = "-name"
    await widget.settled()
    assert widget.selected == [ids[0], ids[1], ids[10]]
    widget.name_filter = "T1"
    await widget.settled()
    assert widget.selected == [] and widget._selection_summary == ""
    await act(widget, "select", token_ids=[ids[10]], selected=True)
    assert (await act(widget, "clear_selection"))["ok"] and widget.selected == []


async def test_rows_the_caller_may_not_change_cannot_be_picked(
    admin: TokensClient, server_url: str
) -> None:
    mine = await admin.create_token("Mine", ["analytics"])
    shared = await admin.create_token("Shared", ["analytics", "finance"])
    viewer = await admin.create_user("viewer", ["analytics"])
    widget = open_widget(url=server_url, api_key=viewer.api_key)
    try:
        await widget.settled()
        await act(widget, "select", token_ids=[mine.id, shared.id], selected=True)
        assert widget.selected == [mine.id]
        await act(widget, "select_matching")
        assert widget.selected == [mine.id]
        assert widget._selection_note == (
            "1 matching is not selected: you do not hold every scope of it."
        )
    finally:
        await widget.aclose()


async def test_all_matching_follows_the_filters_and_the_grid_order(
    widget: TokensWidget, admin: TokensClient
) -> None:
    ids = await _tokens(admin, 12)
    await admin.create_token("Other", ["ml"])
    widget.page_size = 10
    widget.scope_filter = ["analytics"]
    widget.sort = "-name"
    await widget.settled()
    assert widget.total == 12
    answer = await act(widget, "select_matching")
    assert answer["ok"] and answer["result"] == {"count": 12}
    assert widget.selected == ids[::-1]
    assert widget._all_matching and widget._selection_note == ""
    assert widget._selection_summary == "T11, T10, T09 and 9 more"
    # Picking by hand again means the selection is no longer "all matching".
    await act(widget, "select", token_ids=[ids[11]], selected=False)
    assert not widget._all_matching and len(widget.selected) == 11


async def test_all_matching_stops_at_the_bulk_limit_and_says_so(
    widget: TokensWidget, admin: TokensClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A limit of 5 stands for 500, so the test does not make 501 tokens.
    monkeypatch.setattr(selection, "BULK_IDS_MAX", 5)
    ids = await _tokens(admin, 7)
    await _reloaded(widget)
    await act(widget, "select_matching")
    assert widget.selected == ids[:5]
    assert widget._selection_note == (
        "Only the first 5 of 7 matching are selected: one action takes at most 5."
    )


async def test_bulk_revoke_tells_each_outcome_and_clears_the_selection(
    widget: TokensWidget, admin: TokensClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two ids a request: the outcomes of both requests add up in one notice.
    monkeypatch.setattr(selection, "CHUNK", 2)
    ids = await _tokens(admin, 3)
    await _reloaded(widget)
    await act(widget, "select", token_ids=ids, selected=True)
    await admin.revoke_token(ids[1])  # ended meanwhile, elsewhere

    stale = await act(widget, "bulk_revoke", count=2)
    assert stale["ok"] is False and "selection changed" in stale["error"]
    answer = await act(widget, "bulk_revoke", count=3)
    assert answer["ok"], answer
    assert answer["result"]["counts"]["revoked"] == 2
    assert answer["result"]["counts"]["conflict"] == 1
    assert widget.notice == "2 revoked, 1 not active."
    assert widget.selected == []
    await widget.settled()
    assert [row["status"] for row in widget._rows] == ["revoked"] * 3
    nothing = await act(widget, "bulk_revoke", count=0)
    assert nothing["ok"] is False and nothing["error"] == "Nothing is selected."


async def test_bulk_delete_of_all_matching(widget: TokensWidget, admin: TokensClient) -> None:
    ids = await _tokens(admin, 4)
    await _reloaded(widget)
    await act(widget, "select_matching")
    await admin.delete_token(ids[0])  # gone meanwhile
    answer = await act(widget, "bulk_delete", count=4)
    assert answer["ok"], answer
    assert widget.notice == "3 deleted, 1 not found."
    await widget.settled()
    assert widget.total == 0 and widget._rows == [] and widget.selected == []


def test_the_confirmation_and_notice_words() -> None:
    assert selection.names_phrase(["a"]) == "a"
    assert selection.names_phrase(["a", "b", "c"]) == "a, b and c"
    assert selection.names_phrase(["a", "b", "c", "d", "e"]) == "a, b, c and 2 more"
    counts = selection.BulkCounts(revoked=0, forbidden=2)
    assert selection.outcome_words("revoke", counts) == "0 revoked, 2 not yours to change."
    assert selection.outcome_words("delete", selection.BulkCounts(deleted=1)) == "1 deleted."
