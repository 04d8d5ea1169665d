"""A GUID is shown and copied only by those who hold every scope of its token."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Api
from tests.browser.test_tokens_page import row, search


def test_a_token_seen_through_one_shared_scope_shows_its_guid_masked(
    analyst_page: Page, api: Api, prefix: str
) -> None:
    page = analyst_page
    shared = api.token(f"{prefix} shared export", ["analytics", "finance"])
    own = api.token(f"{prefix} analytics job", ["analytics"])
    search(page, prefix)

    masked = row(page, f"{prefix} shared export")
    expect(masked.get_by_test_id("guid")).to_have_text(f"{shared.guid[:8]}-••••")
    copy = masked.get_by_role("button", name=f"Copy GUID of {prefix} shared export")
    expect(copy).to_be_disabled()
    expect(copy).to_have_attribute("title", "Only someone who holds every scope of this token "
                                            "may see or copy its GUID")
    assert shared.guid not in page.content()

    mine = row(page, f"{prefix} analytics job")
    expect(mine.get_by_test_id("guid")).to_have_text(own.guid)
    copy = mine.get_by_role("button", name=f"Copy GUID of {prefix} analytics job")
    copy.click()
    expect(copy).to_have_attribute("title", "Copied")
    assert page.evaluate("navigator.clipboard.readText()") == own.guid
