"""Fixes found by using the page with a keyboard and a screen reader: the Scopes menu closes on
Escape and keeps focus; a save refused as stale keeps focus in its dialog and offers their
version, keeping what was typed; the date inputs' earliest values follow the token; a copy is
announced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Api

ACTIVE_TESTID = "() => document.activeElement?.dataset?.testid ?? document.activeElement?.tagName"
INSIDE_OPEN_DIALOG = "() => Boolean(document.activeElement?.closest('[role=dialog]'))"


def row(page: Page, name: str) -> Locator:
    return page.get_by_test_id("row").filter(
        has=page.get_by_test_id("name").get_by_text(name, exact=True)
    )


def test_escape_closes_the_scopes_menu_after_a_pick_and_keeps_focus(page: Page) -> None:
    toggle = page.get_by_test_id("scope-filter")
    menu = page.get_by_test_id("scope-menu")
    toggle.click()
    expect(menu).to_be_visible()
    box = menu.get_by_role("checkbox").first
    box.click()
    expect(box).to_be_checked()
    expect(box).to_be_focused()  # the pick redraws the menu without taking the focus away
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(toggle).to_be_focused()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    menu.get_by_role("checkbox").first.click()  # the filter off again, for the next tests
    expect(menu.get_by_role("checkbox").first).not_to_be_checked()


def test_a_stale_save_offers_their_version_and_keeps_what_was_typed(
    page: Page, api: Api, prefix: str
) -> None:
    token = api.token(f"{prefix} shared", ["analytics"], description="first words")
    page.get_by_test_id("name-filter").fill(prefix)
    row(page, f"{prefix} shared").get_by_test_id("edit").click()
    form = page.get_by_test_id("token-form")
    form.get_by_test_id("form-description").fill("my words")
    save = form.get_by_test_id("form-save")
    expect(save).to_be_enabled()
    # Meanwhile someone renames it.
    api.run(lambda c: c.update_token(token.id, name=f"{prefix} renamed"))

    save.click()
    reload_theirs = form.get_by_test_id("reload-theirs")
    expect(reload_theirs).to_be_visible()
    expect(reload_theirs).to_be_focused()
    expect(save).to_be_disabled()
    assert page.evaluate(INSIDE_OPEN_DIALOG)

    reload_theirs.click()
    expect(form.get_by_test_id("form-name")).to_have_value(f"{prefix} renamed")
    expect(form.get_by_test_id("form-description")).to_have_value("my words")
    expect(form.get_by_test_id("form-merged")).to_have_text(
        "Loaded their version; your changes are kept."
    )
    expect(save).to_be_enabled()
    save.click()
    expect(form).to_have_count(0)
    stored = api.run(lambda c: c.get_token(token.id))
    assert (stored.name, stored.description) == (f"{prefix} renamed", "my words")


def test_a_refused_save_leaves_focus_in_the_dialog_and_escape_closes_it(
    page: Page, api: Api, prefix: str
) -> None:
    api.token(f"{prefix} taken", ["analytics"])
    page.get_by_test_id("create").click()
    form = page.get_by_test_id("token-form")
    form.get_by_test_id("form-name").fill(f"{prefix} second")
    form.get_by_role("button", name="analytics").click()
    save = form.get_by_test_id("form-save")
    expect(save).to_be_enabled()
    # Meanwhile another token takes the GUID the form drew: the save is refused (409).
    guid = form.get_by_test_id("form-guid").input_value()
    api.token(f"{prefix} first", ["analytics"], guid=guid)
    save.click()
    expect(form.get_by_test_id("form-error")).to_be_visible()
    expect(form.get_by_test_id("reload-theirs")).to_be_hidden()
    assert page.evaluate(INSIDE_OPEN_DIALOG), page.evaluate(ACTIVE_TESTID)
    page.keyboard.press("Escape")
    expect(form).to_have_count(0)


def test_valid_to_cannot_be_set_before_valid_from(page: Page) -> None:
    page.get_by_test_id("create").click()
    form = page.get_by_test_id("token-form")
    valid_from = form.get_by_test_id("form-valid-from")
    valid_to = form.get_by_test_id("form-valid-to")
    later = (datetime.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    valid_from.fill(later)
    expect(valid_to).to_have_attribute("min", later)
    valid_to.fill((datetime.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))
    assert valid_to.evaluate("input => input.matches(':invalid')")
    page.keyboard.press("Escape")


def test_edit_accepts_the_tokens_own_past_valid_from(page: Page, api: Api, prefix: str) -> None:
    started = datetime.now(UTC) - timedelta(minutes=4)
    api.token(f"{prefix} started", ["analytics"], valid_from=started)
    page.get_by_test_id("name-filter").fill(prefix)
    row(page, f"{prefix} started").get_by_test_id("edit").click()
    form = page.get_by_test_id("token-form")
    valid_from = form.get_by_test_id("form-valid-from")
    expect(valid_from).not_to_have_value("")
    valid_from.focus()
    assert not valid_from.evaluate("input => input.matches(':invalid')")
    assert valid_from.evaluate("input => input.min <= input.value")
    # A new date must still lie ahead: an hour before the token's own is refused.
    earlier = (started - timedelta(hours=1)).astimezone().strftime("%Y-%m-%dT%H:%M")
    valid_from.fill(earlier)
    assert valid_from.evaluate("input => input.matches(':invalid')")
    page.keyboard.press("Escape")


def test_a_copy_is_announced_to_screen_readers(page: Page, api: Api, prefix: str) -> None:
    api.token(f"{prefix} announced", ["analytics"])
    page.get_by_test_id("name-filter").fill(prefix)
    line = row(page, f"{prefix} announced")
    said = line.get_by_test_id("copy-status")
    expect(said).to_have_attribute("aria-live", "polite")
    expect(said).to_have_text("")
    line.get_by_role("button", name="Copy GUID").click()
    expect(said).to_have_text("Copied to the clipboard")
