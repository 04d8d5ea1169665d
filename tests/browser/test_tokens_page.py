"""The API Tokens page in Chromium: every interaction the seed page describes.

Long because it walks the seed page from top to bottom, one test per behaviour it names.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Api

DASH = "\N{EN DASH}"  # the pager joins the first and last row numbers with an en dash
# The README's picture is refreshed with TOKENS_SCREENSHOT=docs/screenshot.png; an ordinary run
# leaves tracked files alone and writes to the ignored test-artifacts folder.
SCREENSHOT = Path(
    os.environ.get("TOKENS_SCREENSHOT")
    or Path(__file__).parents[2] / "test-artifacts" / "screenshot.png"
)


def rows(page: Page) -> Locator:
    return page.get_by_test_id("row")


def row(page: Page, name: str) -> Locator:
    return rows(page).filter(has=page.get_by_test_id("name").get_by_text(name, exact=True))


def search(page: Page, text: str) -> None:
    page.get_by_test_id("name-filter").fill(text)


def names(page: Page) -> Locator:
    return rows(page).get_by_test_id("name")


def test_the_grid_in_the_viewers_time_zone_and_the_screenshot(page: Page, api: Api) -> None:
    now = datetime.now(UTC)
    nightly = api.token(
        "Nightly ETL",
        ["analytics"],
        description="Loads the warehouse every night",
        valid_to=now + timedelta(days=90),
    )
    assert api.run(lambda c: c.verify_token(nightly.guid)).valid
    api.token(
        "Model training pipeline",
        ["ml"],
        description="GPU batch jobs",
        valid_from=datetime(2031, 1, 15, 9, 30, tzinfo=UTC),
    )
    api.token(
        "Quarterly finance export",
        ["finance", "analytics"],
        description="Reports for the board",
        valid_to=now + timedelta(days=3),
    )
    dashboard = api.token("BI dashboard refresh", ["analytics"])
    api.run(lambda c: c.regenerate_token(dashboard.id, grace=timedelta(days=7)))
    legacy = api.token("Legacy CRM import", ["finance"])
    api.run(lambda c: c.revoke_token(legacy.id))
    page.get_by_test_id("refresh").click()

    training = row(page, "Model training pipeline")
    # 09:30 UTC is 10:30 in Ljubljana in winter.
    expect(training.get_by_test_id("valid-from")).to_have_text("Jan 15, 203110:30 AM")
    expect(training.get_by_test_id("status")).to_have_text("Scheduled")
    expect(row(page, "BI dashboard refresh").get_by_test_id("valid-to")).to_have_text("Never")
    quarterly = row(page, "Quarterly finance export")
    expect(quarterly.get_by_test_id("expiry-note")).to_have_text("Expires in 3 days")
    expect(row(page, "Nightly ETL").get_by_test_id("last-used")).to_have_text("just now")
    expect(row(page, "BI dashboard refresh").get_by_test_id("previous-guid-note")).to_contain_text(
        "Old GUID valid until"
    )
    # Two rows picked, so the picture shows the checkboxes and the bulk actions' bar.
    for name in ("Legacy CRM import", "Model training pipeline"):
        page.get_by_role("checkbox", name=f"Select {name}").check()
    expect(page.get_by_test_id("selection-count")).to_have_text("2 selected")
    expect(page.get_by_text("Times shown in Europe/Ljubljana")).to_be_visible()
    expect(page.get_by_test_id("sort-name").locator("..")).to_have_attribute(
        "aria-sort", "ascending"
    )
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.locator(".tkn").screenshot(path=str(SCREENSHOT))


def test_create_refuses_a_past_date_and_enables_save_only_when_valid(
    page: Page, prefix: str
) -> None:
    page.get_by_test_id("create").click()
    form = page.get_by_test_id("token-form")
    save = form.get_by_test_id("form-save")
    guid = form.get_by_test_id("form-guid")
    expect(guid).to_have_value(re.compile(r"^[0-9a-f-]{36}$"))
    expect(guid).to_have_attribute("readonly", "")
    expect(save).to_be_disabled()

    form.get_by_test_id("form-name").fill(f"{prefix} Nightly ETL")
    expect(form.get_by_test_id("error-scopes")).to_be_empty()
    expect(save).to_be_disabled()  # no scope yet
    form.locator("[data-scope=analytics]").click()
    expect(save).to_be_enabled()

    valid_from = form.get_by_test_id("form-valid-from")
    minimum = valid_from.get_attribute("min")
    assert minimum is not None and minimum >= datetime.now().strftime("%Y-%m-%dT00:00")
    valid_from.fill("2020-03-01T08:00")  # typed past the calendar, which offers no past days
    expect(form.get_by_test_id("error-valid_from")).to_have_text(
        "Valid from cannot be in the past."
    )
    expect(save).to_be_disabled()
    valid_from.fill("")
    form.get_by_test_id("form-valid-to").fill("2020-03-01T08:00")
    expect(form.get_by_test_id("error-valid_to")).to_have_text("Valid to cannot be in the past.")
    expect(save).to_be_disabled()
    form.get_by_test_id("form-valid-to").fill("2031-06-30T17:45")
    expect(save).to_be_enabled()

    first_guid = guid.input_value()
    form.get_by_test_id("form-regenerate").click()
    expect(guid).not_to_have_value(first_guid)
    chosen_guid = guid.input_value()
    form.get_by_test_id("form-description").fill("Loads the warehouse")
    save.click()
    expect(form).to_be_hidden()
    expect(page.get_by_test_id("notice")).to_have_text(f"Token “{prefix} Nightly ETL” created.")

    search(page, prefix)
    expect(rows(page)).to_have_count(1)
    created = row(page, f"{prefix} Nightly ETL")
    expect(created.get_by_test_id("guid")).to_have_text(chosen_guid)
    expect(created.get_by_test_id("valid-to")).to_have_text("Jun 30, 20315:45 PM")
    expect(created.get_by_test_id("status")).to_have_text("Active")


def test_cancel_discards_the_form(page: Page, prefix: str) -> None:
    page.get_by_test_id("create").click()
    form = page.get_by_test_id("token-form")
    form.get_by_test_id("form-name").fill(f"{prefix} discarded")
    form.get_by_test_id("form-cancel").click()
    expect(form).to_be_hidden()
    search(page, prefix)
    expect(page.get_by_text("No tokens match these filters.")).to_be_visible()


def test_edit_opens_the_filled_form_and_saves(page: Page, api: Api, prefix: str) -> None:
    api.token(f"{prefix} report", ["analytics"], description="old words")
    search(page, prefix)
    row(page, f"{prefix} report").get_by_test_id("edit").click()
    form = page.get_by_test_id("token-form")
    expect(form.get_by_role("heading")).to_have_text("Edit token")
    expect(form.get_by_test_id("form-name")).to_have_value(f"{prefix} report")
    expect(form.get_by_test_id("form-description")).to_have_value("old words")
    expect(form.locator("[data-scope=analytics]")).to_have_attribute("aria-pressed", "true")
    form.get_by_test_id("form-name").fill(f"{prefix} weekly report")
    form.locator("[data-scope=finance]").click()
    form.get_by_test_id("form-save").click()
    expect(form).to_be_hidden()
    edited = row(page, f"{prefix} weekly report")
    expect(edited.locator(".tkn-chip")).to_have_text(["analytics", "finance"])


def test_a_concurrent_change_is_explained_in_plain_words(page: Page, api: Api, prefix: str) -> None:
    token = api.token(f"{prefix} shared", ["analytics"])
    search(page, prefix)
    row(page, f"{prefix} shared").get_by_test_id("edit").click()
    form = page.get_by_test_id("token-form")
    form.get_by_test_id("form-name").fill(f"{prefix} mine")
    api.run(lambda c: c.update_token(token.id, description="someone else was faster"))
    form.get_by_test_id("form-save").click()
    expect(form.get_by_test_id("form-error")).to_contain_text(
        "Someone else changed this token while you were looking at it."
    )


def test_revoke_asks_first_and_disables_revoke_afterwards(
    page: Page, api: Api, prefix: str
) -> None:
    api.token(f"{prefix} to revoke", ["analytics"])
    search(page, prefix)
    target = row(page, f"{prefix} to revoke")
    target.get_by_test_id("revoke").click()
    dialog = page.get_by_test_id("confirm-revoke")
    expect(dialog).to_contain_text("It stops working now")
    dialog.get_by_test_id("cancel").click()
    expect(target.get_by_test_id("status")).to_have_text("Active")

    target.get_by_test_id("revoke").click()
    page.get_by_test_id("confirm-revoke").get_by_test_id("confirm").click()
    expect(target.get_by_test_id("status")).to_have_text("Revoked")
    expect(target.get_by_test_id("revoke")).to_be_disabled()
    expect(target.get_by_test_id("edit")).to_be_enabled()


def test_delete_asks_first(page: Page, api: Api, prefix: str) -> None:
    api.token(f"{prefix} keep", ["analytics"])
    api.token(f"{prefix} remove", ["analytics"])
    search(page, prefix)
    row(page, f"{prefix} remove").get_by_test_id("delete").click()
    dialog = page.get_by_test_id("confirm-delete")
    expect(dialog).to_contain_text("This cannot be undone.")
    dialog.get_by_test_id("confirm").click()
    expect(names(page)).to_have_text([f"{prefix} keep"])
    expect(page.get_by_test_id("notice")).to_have_text(f"Token “{prefix} remove” deleted.")


def test_sort_by_name_and_by_is_active(page: Page, api: Api, prefix: str) -> None:
    for name in ["bravo", "Alpha", "charlie"]:
        api.token(f"{prefix} {name}", ["analytics"])
    charlie = api.run(lambda c: c.list_tokens(name=f"{prefix} charlie")).items[0]
    api.run(lambda c: c.revoke_token(charlie.id))
    search(page, prefix)
    expect(names(page)).to_have_text([f"{prefix} Alpha", f"{prefix} bravo", f"{prefix} charlie"])

    page.get_by_test_id("sort-name").click()
    expect(names(page)).to_have_text([f"{prefix} charlie", f"{prefix} bravo", f"{prefix} Alpha"])
    expect(page.get_by_test_id("sort-name")).to_contain_text("▼")

    page.get_by_test_id("sort-active").click()  # active first
    expect(names(page)).to_have_text([f"{prefix} Alpha", f"{prefix} bravo", f"{prefix} charlie"])
    expect(page.get_by_test_id("sort-active").locator("..")).to_have_attribute(
        "aria-sort", "descending"
    )
    page.get_by_test_id("sort-active").click()  # inactive first
    expect(names(page)).to_have_text([f"{prefix} charlie", f"{prefix} Alpha", f"{prefix} bravo"])
    expect(page.get_by_test_id("sort-active")).to_contain_text("▲")


def test_sort_by_expiration_and_last_use_from_their_headers(
    page: Page, api: Api, prefix: str
) -> None:
    now = datetime.now(UTC)
    api.token(f"{prefix} later", ["analytics"], valid_to=now + timedelta(days=5))
    api.token(f"{prefix} sooner", ["analytics"], valid_to=now + timedelta(days=2))
    never = api.token(f"{prefix} never", ["analytics"])
    assert api.run(lambda c: c.verify_token(never.guid)).valid
    search(page, prefix)
    expect(names(page)).to_have_text([f"{prefix} later", f"{prefix} never", f"{prefix} sooner"])
    expect(rows(page).get_by_test_id("last-used")).to_have_text(["Never", "just now", "Never"])

    header = page.get_by_test_id("sort-valid-to")
    header.click()  # soonest end first; never last
    expect(names(page)).to_have_text([f"{prefix} sooner", f"{prefix} later", f"{prefix} never"])
    expect(header.locator("..")).to_have_attribute("aria-sort", "ascending")
    expect(header).to_contain_text("▲")
    header.click()
    expect(names(page)).to_have_text([f"{prefix} never", f"{prefix} later", f"{prefix} sooner"])
    expect(header.locator("..")).to_have_attribute("aria-sort", "descending")
    expect(page.get_by_test_id("sort-name").locator("..")).to_have_attribute("aria-sort", "none")

    used = page.get_by_test_id("sort-last-used")
    used.click()
    expect(used.locator("..")).to_have_attribute("aria-sort", "ascending")
    expect(header.locator("..")).to_have_attribute("aria-sort", "none")
    used.click()
    expect(used.locator("..")).to_have_attribute("aria-sort", "descending")


def test_tokens_about_to_expire_are_marked_and_one_click_away(
    page: Page, api: Api, prefix: str
) -> None:
    now = datetime.now(UTC)
    api.token(f"{prefix} soon", ["analytics"], valid_to=now + timedelta(days=2))
    api.token(f"{prefix} later", ["analytics"], valid_to=now + timedelta(days=30))
    expiring = api.run(lambda c: c.list_tokens(expires_within=7, limit=1)).total
    search(page, prefix)
    expect(names(page)).to_have_text([f"{prefix} later", f"{prefix} soon"])
    expect(rows(page).get_by_test_id("expiry-note")).to_have_text(["Expires in 2 days"])
    expect(rows(page).nth(1).get_by_test_id("expiry-note")).to_be_visible()
    words = f"{expiring} tokens expire" if expiring > 1 else "1 token expires"
    expect(page.get_by_test_id("expiring-text")).to_have_text(f"{words} within 7 days — ")

    page.get_by_test_id("expiring-show").click()
    expect(names(page)).to_have_text([f"{prefix} soon"])
    expect(page.get_by_test_id("expiring-text")).to_contain_text("Showing the tokens")
    page.get_by_test_id("expiring-show").click()  # "show all"
    expect(names(page)).to_have_text([f"{prefix} later", f"{prefix} soon"])


def test_filters_by_guid_scope_and_status(page: Page, api: Api, prefix: str) -> None:
    wanted = api.token(f"{prefix} wanted", ["finance"])
    other = api.token(f"{prefix} other", ["ml"])
    api.run(lambda c: c.revoke_token(other.id))
    api.token(f"{prefix} third", ["analytics"])

    guid = page.get_by_test_id("guid-filter")
    guid.fill(wanted.guid[:3])
    expect(page.get_by_test_id("filter-hint")).to_have_text(
        "Type at least 4 characters of the GUID."
    )
    guid.fill(wanted.guid[:9])
    expect(names(page)).to_have_text([f"{prefix} wanted"])
    guid.fill("")

    search(page, prefix)
    expect(rows(page)).to_have_count(3)
    page.get_by_test_id("scope-filter").click()
    menu = page.get_by_test_id("scope-menu")
    expect(menu.locator("label")).to_have_text(["analytics", "finance", "ml"])
    menu.get_by_label("finance").check()
    expect(names(page)).to_have_text([f"{prefix} wanted"])
    menu.get_by_label("ml").check()
    expect(names(page)).to_have_text([f"{prefix} other", f"{prefix} wanted"])
    expect(page.get_by_test_id("scope-filter")).to_have_text("finance, ml")
    page.get_by_test_id("name-filter").click()  # closes the menu
    expect(menu).to_be_hidden()

    page.get_by_test_id("status-filter").select_option("inactive")
    expect(names(page)).to_have_text([f"{prefix} other"])
    page.get_by_test_id("status-filter").select_option("active")
    expect(names(page)).to_have_text([f"{prefix} wanted"])


def test_paging_with_total_and_page_size(page: Page, api: Api, prefix: str) -> None:
    for number in range(12):
        api.token(f"{prefix} job {number:02}", ["analytics"])
    search(page, prefix)
    expect(page.get_by_test_id("range")).to_have_text(f"1{DASH}12 of 12")
    page.get_by_test_id("page-size").select_option("10")
    expect(page.get_by_test_id("range")).to_have_text(f"1{DASH}10 of 12")
    expect(rows(page)).to_have_count(10)
    expect(page.get_by_test_id("prev")).to_be_disabled()
    page.get_by_test_id("next").click()
    expect(page.get_by_test_id("range")).to_have_text(f"11{DASH}12 of 12")
    expect(names(page)).to_have_text([f"{prefix} job 10", f"{prefix} job 11"])
    expect(page.get_by_test_id("next")).to_be_disabled()
    page.get_by_test_id("prev").click()
    expect(names(page).first).to_have_text(f"{prefix} job 00")


def test_copy_guid_to_the_clipboard(page: Page, api: Api, prefix: str) -> None:
    token = api.token(f"{prefix} copy me", ["analytics"])
    search(page, prefix)
    copy = row(page, f"{prefix} copy me").get_by_role("button", name="Copy GUID")
    copy.click()
    expect(copy).to_have_attribute("title", "Copied")  # set once the clipboard took it
    assert page.evaluate("navigator.clipboard.readText()") == token.guid

    page.get_by_test_id("create").click()
    form = page.get_by_test_id("token-form")
    expect(form.get_by_test_id("form-guid")).not_to_have_value("")
    copy = form.get_by_role("button", name="Copy GUID")
    copy.click()
    expect(copy).to_have_attribute("title", "Copied")
    guid = form.get_by_test_id("form-guid").input_value()
    assert page.evaluate("navigator.clipboard.readText()") == guid


def test_refresh_shows_changes_made_elsewhere(page: Page, api: Api, prefix: str) -> None:
    search(page, prefix)
    expect(page.get_by_text("No tokens match these filters.")).to_be_visible()
    api.token(f"{prefix} from a script", ["ml"])
    page.get_by_test_id("refresh").click()
    expect(names(page)).to_have_text([f"{prefix} from a script"])
