"""Rotating a GUID from the Edit dialog, with the old one kept working for a while."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Api
from tests.browser.test_tokens_page import row, search


def test_a_new_guid_can_keep_the_old_one_working_for_a_day(
    page: Page, api: Api, prefix: str
) -> None:
    token = api.token(f"{prefix} deploy bot", ["analytics"])
    search(page, prefix)
    listed = row(page, f"{prefix} deploy bot")
    expect(listed.get_by_test_id("previous-guid-note")).to_have_count(0)
    listed.get_by_test_id("edit").click()
    form = page.get_by_test_id("token-form")
    grace = form.get_by_label("Keep the old GUID working for")
    # Nothing to keep until the GUID is replaced.
    expect(grace).to_be_hidden()

    form.get_by_test_id("form-regenerate").click()
    expect(form.get_by_test_id("form-guid")).not_to_have_value(token.guid or "")
    expect(grace).to_be_visible()
    expect(grace).to_have_value("0")
    assert grace.locator("option").all_inner_texts() == ["No", "1 hour", "1 day", "7 days"]
    grace.select_option(label="1 day")
    new_guid = form.get_by_test_id("form-guid").input_value()
    form.get_by_test_id("form-save").click()
    expect(form).to_be_hidden()

    note = listed.get_by_test_id("previous-guid-note")
    expect(note).to_contain_text("Old GUID valid until")
    assert token.guid is not None
    old = api.run(lambda c: c.verify_token(token.guid or ""))
    assert old.valid and old.superseded and old.superseded_until is not None
    assert api.run(lambda c: c.get_token(token.id)).guid == new_guid

    # Revoking ends both GUIDs, and the note goes with the old one.
    listed.get_by_test_id("revoke").click()
    page.get_by_test_id("confirm-revoke").get_by_test_id("confirm").click()
    expect(listed.get_by_test_id("status")).to_have_text("Revoked")
    expect(note).to_have_count(0)
    assert api.run(lambda c: c.verify_token(token.guid or "")).status == "revoked"
