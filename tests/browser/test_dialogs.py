"""Keyboard use of the dialogs: focus moves in, stays in, and goes back where it came from."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Api

INSIDE_OPEN_DIALOG = "() => Boolean(document.activeElement?.closest('[role=dialog]'))"


def tab_around(page: Page, start: Locator, limit: int = 40) -> int:
    """Press Tab until focus is back on ``start``; focus must never leave the dialog."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        assert page.evaluate(INSIDE_OPEN_DIALOG), f"focus left the dialog after {presses} Tabs"
        if start.evaluate("node => node === document.activeElement"):
            return presses
    raise AssertionError(f"focus did not come back to the first control in {limit} Tabs")


def test_the_form_traps_focus_and_escape_gives_it_back(page: Page) -> None:
    create = page.get_by_test_id("create")
    create.click()
    form = page.get_by_role("dialog", name="Create token")
    name = form.get_by_label("Name")
    expect(name).to_be_focused()
    expect(form.get_by_test_id("form-guid")).not_to_have_value("")

    # Name, 3 scopes, copy, regenerate, description, 2 date inputs, Cancel (Save is disabled).
    assert tab_around(page, name) >= 10
    page.keyboard.press("Shift+Tab")  # backwards from the first control: the last one
    expect(form.get_by_test_id("form-cancel")).to_be_focused()
    page.keyboard.press("Tab")
    expect(name).to_be_focused()

    page.keyboard.press("Escape")
    expect(form).to_have_count(0)
    expect(create).to_be_focused()


def test_a_confirmation_starts_on_cancel_and_returns_focus_to_its_row(
    page: Page, api: Api, prefix: str
) -> None:
    api.token(f"{prefix} keys", ["analytics"])
    page.get_by_test_id("name-filter").fill(prefix)
    delete = page.get_by_role("button", name=f"Delete {prefix} keys")
    delete.click()
    dialog = page.get_by_role("dialog", name="Delete token")
    expect(dialog).to_have_accessible_description(
        f"Delete “{prefix} keys”? Anything still using it stops working. This cannot be undone."
    )
    cancel = dialog.get_by_role("button", name="Cancel")
    confirm = dialog.get_by_role("button", name="Delete")
    expect(cancel).to_be_focused()  # the choice that destroys nothing
    page.keyboard.press("Tab")
    expect(confirm).to_be_focused()
    page.keyboard.press("Tab")
    expect(cancel).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(confirm).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(delete).to_be_focused()
    expect(page.get_by_test_id("row")).to_have_count(1)  # Escape deleted nothing


def test_every_button_has_a_name(page: Page, api: Api, prefix: str) -> None:
    api.token(f"{prefix} named", ["analytics"])
    page.get_by_test_id("name-filter").fill(prefix)
    row = page.get_by_test_id("row")
    for action in ["Edit", "Revoke", "Delete", "Copy GUID of"]:
        expect(
            row.get_by_role("button", name=f"{action} {prefix} named", exact=True)
        ).to_be_visible()
    page.get_by_test_id("create").click()
    expect(page.get_by_role("dialog", name="Create token")).to_be_visible()
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('.tkn button, .tkn-portal button')]
            .filter((b) => !(b.getAttribute('aria-label') || b.textContent).trim())
            .map((b) => b.outerHTML.slice(0, 80))"""
    )
    assert unnamed == []
