"""Bulk actions in the browser: pick rows by their checkboxes, or the whole page, or all that
match; one confirmation names the count and the first names; the notice tells the outcomes."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Api


def show_only(page: Page, api: Api, prefix: str, count: int, total: int | None = None) -> None:
    """Narrow the grid to this test's ``count`` tokens, and wait until it is: a filter that
    applies after rows were picked clears the selection. The browser sends what was typed once
    typing pauses, and on a database holding only this test's tokens the grid read before
    looks just like the filtered one (seen: "10 of 12" before the filter came). So a token
    outside the filter is made and found alone by its name first; once it is gone again, the
    filter has applied."""
    outside = f"Outside {prefix[::-1]}"
    api.token(outside, ["analytics"])
    rows = page.get_by_test_id("row")
    page.get_by_test_id("name-filter").fill(outside)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(outside)
    page.get_by_test_id("name-filter").fill(prefix)
    expect(rows.filter(has_text=outside)).to_have_count(0)
    expect(rows).to_have_count(count)
    expect(page.get_by_test_id("range")).to_contain_text(f"of {total or count}")


def test_revoke_two_picked_rows(page: Page, api: Api, prefix: str) -> None:
    for name in ("alpha", "beta", "gamma"):
        api.token(f"{prefix} {name}", ["analytics"])
    show_only(page, api, prefix, 3)
    rows = page.get_by_test_id("row")
    bar = page.get_by_test_id("selection-bar")
    expect(bar).to_be_hidden()

    page.get_by_role("checkbox", name=f"Select {prefix} alpha").check()
    page.get_by_role("checkbox", name=f"Select {prefix} beta").check()
    expect(page.get_by_test_id("selection-count")).to_have_text("2 selected")
    expect(page.get_by_test_id("select-page")).to_have_js_property("indeterminate", True)
    # The whole page is not picked, so "all matching" is not offered yet.
    expect(page.get_by_test_id("select-matching")).to_be_hidden()

    page.get_by_role("button", name="Revoke selected").click()
    dialog = page.get_by_role("dialog", name="Revoke 2 tokens")
    expect(dialog).to_have_accessible_description(
        f"Revoke 2 tokens: {prefix} alpha and {prefix} beta?"
    )
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    dialog.get_by_role("button", name="Revoke 2 tokens").click()
    expect(dialog).to_have_count(0)

    expect(page.get_by_test_id("notice")).to_have_text("2 revoked.")
    expect(bar).to_be_hidden()
    statuses = {
        f"{prefix} alpha": "Revoked",
        f"{prefix} beta": "Revoked",
        f"{prefix} gamma": "Active",
    }
    for name, status in statuses.items():
        row = rows.filter(has=page.get_by_text(name, exact=True))
        expect(row.get_by_test_id("status")).to_have_text(status)
        expect(row.get_by_test_id("select-row")).not_to_be_checked()
    # The bar that opened the dialog is gone: the keyboard lands on the page's checkbox.
    expect(page.get_by_test_id("select-page")).to_be_focused()


def test_select_the_page_then_all_matching_then_delete(page: Page, api: Api, prefix: str) -> None:
    for i in range(12):
        api.token(f"{prefix} {i:02}", ["analytics"])
    page.get_by_test_id("page-size").select_option("10")
    show_only(page, api, prefix, 10, total=12)
    rows = page.get_by_test_id("row")

    page.get_by_role("checkbox", name="Select all on this page").check()
    expect(page.get_by_test_id("selection-count")).to_have_text("10 selected")
    matching = page.get_by_role("button", name="Select all 12 matching")
    matching.click()
    expect(page.get_by_test_id("selection-count")).to_have_text("12 selected")
    expect(matching).to_be_hidden()
    page.get_by_test_id("next").click()
    expect(rows).to_have_count(2)
    for index in range(2):
        expect(rows.nth(index).get_by_test_id("select-row")).to_be_checked()

    page.get_by_role("button", name="Delete selected").click()
    dialog = page.get_by_role("dialog", name="Delete 12 tokens")
    expect(dialog.get_by_test_id("bulk-question")).to_have_text(
        f"Delete 12 tokens: {prefix} 00, {prefix} 01, {prefix} 02 and 9 more?"
    )
    dialog.get_by_role("button", name="Delete 12 tokens").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_test_id("notice")).to_have_text("12 deleted.")
    expect(page.get_by_text("No tokens match these filters.")).to_be_visible()
    expect(page.get_by_test_id("selection-bar")).to_be_hidden()


def test_escape_cancels_and_clear_empties_the_selection(page: Page, api: Api, prefix: str) -> None:
    api.token(f"{prefix} kept", ["analytics"])
    show_only(page, api, prefix, 1)
    page.get_by_role("checkbox", name=f"Select {prefix} kept").check()
    delete = page.get_by_role("button", name="Delete selected")
    delete.click()
    dialog = page.get_by_role("dialog", name="Delete 1 token")
    expect(dialog.get_by_test_id("bulk-question")).to_have_text(f"Delete 1 token: {prefix} kept?")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(delete).to_be_focused()
    expect(page.get_by_test_id("row")).to_have_count(1)  # Escape deleted nothing
    page.get_by_role("button", name="Clear", exact=True).click()
    expect(page.get_by_test_id("selection-bar")).to_be_hidden()
    expect(page.get_by_role("checkbox", name=f"Select {prefix} kept")).not_to_be_checked()
    expect(page.get_by_test_id("select-page")).to_be_focused()


def test_rows_a_user_may_not_change_cannot_be_picked(
    analyst_page: Page, api: Api, prefix: str
) -> None:
    page = analyst_page
    api.token(f"{prefix} shared", ["analytics", "finance"])
    show_only(page, api, prefix, 1)
    expect(page.get_by_role("checkbox", name=f"Select {prefix} shared")).to_be_disabled()
    expect(page.get_by_role("checkbox", name="Select all on this page")).to_be_disabled()
