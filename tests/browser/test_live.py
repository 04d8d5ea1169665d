"""Two people, two pages: what one changes appears in the other's grid without Refresh, an
edit dialog open in one is told of the other's change rather than overwritten, and the History
dialog tells who changed what, newest first.

The admin works in ``page``, ``analyst`` (scope analytics) in ``analyst_page``: two users, each
with their own Voila kernel following the server's change feed.
"""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Api
from tokens_widget import TokensClient
from tokens_widget.history import HISTORY_PAGE_SIZE

# The brief's promise for a change made elsewhere to show.
WITHOUT_REFRESH_MS = 2_000


def row(page: Page, name: str) -> Locator:
    return page.get_by_test_id("row").filter(
        has=page.get_by_test_id("name").get_by_text(name, exact=True)
    )


def narrow_to(page: Page, prefix: str, rows: int) -> None:
    page.get_by_test_id("name-filter").fill(prefix)
    expect(page.get_by_test_id("row")).to_have_count(rows)


def expect_live(page: Page) -> None:
    expect(page.get_by_test_id("live")).to_have_text("Live")


def test_a_change_in_one_page_appears_in_the_other_without_refresh(
    page: Page, analyst_page: Page, api: Api, prefix: str
) -> None:
    api.token(f"{prefix} nightly", ["analytics"])
    for each in (page, analyst_page):
        narrow_to(each, prefix, 1)
        expect_live(each)

    # The admin renames it in their page; the analyst's grid follows.
    row(page, f"{prefix} nightly").get_by_test_id("edit").click()
    form = page.get_by_test_id("token-form")
    form.get_by_test_id("form-name").fill(f"{prefix} nightly ETL")
    form.get_by_test_id("form-save").click()
    expect(form).to_be_hidden()
    expect(row(analyst_page, f"{prefix} nightly ETL")).to_be_visible(timeout=WITHOUT_REFRESH_MS)

    # The analyst revokes it in theirs; the admin's grid follows.
    row(analyst_page, f"{prefix} nightly ETL").get_by_test_id("revoke").click()
    analyst_page.get_by_test_id("confirm").click()
    expect(row(page, f"{prefix} nightly ETL").get_by_test_id("status")).to_have_text(
        "Revoked", timeout=WITHOUT_REFRESH_MS
    )

    # A token made by the admin appears for the analyst; one they cannot see does not.
    api.token(f"{prefix} ledger", ["finance"])
    api.token(f"{prefix} dashboards", ["analytics"])
    expect(analyst_page.get_by_test_id("name")).to_have_text(
        [f"{prefix} dashboards", f"{prefix} nightly ETL"], timeout=WITHOUT_REFRESH_MS
    )
    expect(page.get_by_test_id("row")).to_have_count(3, timeout=WITHOUT_REFRESH_MS)


def test_an_open_edit_dialog_is_told_of_a_change_and_not_overwritten(
    page: Page, analyst_page: Page, api: Api, prefix: str
) -> None:
    api.token(f"{prefix} shared", ["analytics"], description="as it was")
    for each in (page, analyst_page):
        narrow_to(each, prefix, 1)
        expect_live(each)

    row(analyst_page, f"{prefix} shared").get_by_test_id("edit").click()
    draft = analyst_page.get_by_test_id("token-form")
    draft.get_by_test_id("form-description").fill("the analyst's words")
    notice = draft.get_by_test_id("changed-notice")
    expect(notice).to_be_hidden()

    row(page, f"{prefix} shared").get_by_test_id("edit").click()
    theirs = page.get_by_test_id("token-form")
    theirs.get_by_test_id("form-name").fill(f"{prefix} shared by admin")
    theirs.get_by_test_id("form-save").click()
    expect(theirs).to_be_hidden()

    # Told who changed it; the draft is the analyst's still.
    expect(notice).to_be_visible(timeout=WITHOUT_REFRESH_MS)
    expect(notice.get_by_test_id("changed-text")).to_have_text("Changed by admin just now.")
    expect(draft.get_by_test_id("form-name")).to_have_value(f"{prefix} shared")
    expect(draft.get_by_test_id("form-description")).to_have_value("the analyst's words")
    # Meanwhile the grid behind the dialog shows the admin's name.
    expect(row(analyst_page, f"{prefix} shared by admin")).to_have_count(1)

    notice.get_by_test_id("reload-values").click()
    expect(notice).to_be_hidden()
    expect(draft).to_be_visible()
    expect(draft.get_by_test_id("form-name")).to_have_value(f"{prefix} shared by admin")
    expect(draft.get_by_test_id("form-description")).to_have_value("as it was")

    # Saved on top of the values reloaded, the analyst's change goes through (no conflict).
    draft.get_by_test_id("form-description").fill("the analyst's words, after the admin's")
    draft.get_by_test_id("form-save").click()
    expect(draft).to_be_hidden()
    expect(row(page, f"{prefix} shared by admin").locator(".tkn-desc")).to_have_text(
        "the analyst's words, after the admin's", timeout=WITHOUT_REFRESH_MS
    )


def test_the_history_dialog_lists_the_changes_newest_first(
    page: Page, api: Api, prefix: str
) -> None:
    token = api.token(f"{prefix} audited", ["analytics"])
    api.run(
        lambda c: c.update_token(token.id, name=f"{prefix} audited v2", scopes=["analytics", "ml"])
    )
    api.run(lambda c: c.regenerate_token(token.id))
    api.run(lambda c: c.revoke_token(token.id))
    narrow_to(page, prefix, 1)

    page.get_by_role("button", name=f"History of {prefix} audited v2").click()
    dialog = page.get_by_role("dialog", name=f"History of “{prefix} audited v2”")
    entries = dialog.get_by_test_id("history-entry")
    expect(entries.get_by_test_id("history-summary")).to_have_text(
        ["Revoked", "GUID regenerated", "Changed", "Created"]
    )
    expect(entries.get_by_test_id("history-actor")).to_have_text(["admin"] * 4)
    changed = entries.nth(2)
    expect(changed.locator("[data-field=name]")).to_have_text(
        f"Name: “{prefix} audited” → “{prefix} audited v2”"
    )
    expect(changed.locator("[data-field=scopes] .tkn-chip")).to_have_text(
        ["analytics", "analytics", "ml"]
    )
    regenerated = entries.nth(1).locator("[data-field=guid_prefix]")
    expect(regenerated).to_contain_text(f"GUID: {token.guid_prefix}…")
    expect(entries.nth(3).locator("[data-field=name]")).to_have_text(f"Name: “{prefix} audited”")
    dialog.get_by_test_id("history-close").click()
    expect(dialog).to_have_count(0)


def test_older_history_loads_on_scroll(page: Page, api: Api, prefix: str) -> None:
    token = api.token(f"{prefix} busy 0", ["analytics"])
    renames = HISTORY_PAGE_SIZE + 5

    async def rename(client: TokensClient) -> None:
        for n in range(1, renames + 1):
            await client.update_token(token.id, name=f"{prefix} busy {n}")

    api.run(rename)
    narrow_to(page, prefix, 1)
    page.get_by_role("button", name=f"History of {prefix} busy {renames}").click()
    dialog = page.get_by_test_id("history-dialog")
    entries = dialog.get_by_test_id("history-entry")
    expect(entries).to_have_count(HISTORY_PAGE_SIZE)
    entries.last.scroll_into_view_if_needed()
    expect(entries).to_have_count(renames + 1)
    expect(entries.last.get_by_test_id("history-summary")).to_have_text("Created")
    newest = entries.first.locator("[data-field=name] .tkn-event-value")
    expect(newest).to_have_text([f"“{prefix} busy {renames - 1}”", f"“{prefix} busy {renames}”"])
