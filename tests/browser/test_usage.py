"""Usage in the page: the Uses column's sparkline, total and refusal mark, and the History
dialog's Usage chart, after verifications the server has counted and written."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Api
from tests.live_server import LiveServer
from tokens_widget import TokensClient


def test_the_uses_column_and_the_usage_chart_show_what_was_counted(
    page: Page, api: Api, prefix: str, live_server: LiveServer
) -> None:
    used = api.token(f"{prefix} used", ["analytics"])
    refused = api.token(f"{prefix} refused", ["finance"])
    assert used.guid is not None and refused.guid is not None
    used_guid, refused_guid = used.guid, refused.guid

    async def verify(client: TokensClient) -> None:
        for _ in range(3):
            assert (await client.verify_token(used_guid)).valid
        await client.revoke_token(refused.id)
        for _ in range(2):
            assert not (await client.verify_token(refused_guid)).valid

    api.run(verify)
    live_server.flush()
    # The page is read again for the filter, its usage with it (and again while shown).
    page.get_by_test_id("name-filter").fill(prefix)
    rows = page.get_by_test_id("row")
    expect(rows).to_have_count(2)
    used_row = rows.filter(has_text=f"{prefix} used")
    refused_row = rows.filter(has_text=f"{prefix} refused")
    expect(used_row.get_by_test_id("uses-total")).to_have_text("3")
    expect(used_row.get_by_test_id("sparkline")).to_have_count(1)
    expect(used_row.get_by_test_id("refused-mark")).to_have_count(0)
    expect(refused_row.get_by_test_id("uses-total")).to_have_text("0")
    expect(refused_row.get_by_test_id("refused-mark")).to_have_attribute(
        "aria-label", "2 refused (2 revoked)"
    )

    used_row.get_by_test_id("history").click()
    dialog = page.get_by_test_id("history-dialog")
    dialog.get_by_role("tab", name="Usage").click()
    section = dialog.get_by_test_id("usage-section")
    expect(section).to_be_visible()
    expect(dialog.get_by_test_id("history-list")).to_be_hidden()
    expect(section.get_by_test_id("usage-uses")).to_have_text("3 uses")
    bars = section.get_by_test_id("usage-bar")
    expect(bars).to_have_count(14)
    expect(bars.last).to_have_attribute("data-uses", "3")
    expect(section.locator(".tkn-chart-uses")).to_have_count(1)
    section.get_by_test_id("usage-range-24h").click()
    expect(bars).to_have_count(24)
    expect(section.get_by_test_id("usage-status")).to_have_text("Times in Europe/Ljubljana.")
    expect(section.get_by_test_id("usage-uses")).to_have_text("3 uses")
    dialog.get_by_test_id("history-close").click()

    refused_row.get_by_test_id("history").click()
    dialog.get_by_role("tab", name="Usage").click()
    expect(section.get_by_test_id("usage-refused")).to_have_text("2 refused (2 revoked)")
    expect(section.locator(".tkn-chart-refused")).to_have_count(1)
