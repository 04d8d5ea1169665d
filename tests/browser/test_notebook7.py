"""The demo notebook in Jupyter Notebook 7: its own page around the same notebook panel as
JupyterLab (a header, a menu bar and a toolbar above the notebook, which scrolls by itself)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Api
from tests.browser.notebook_apps import create_a_token


def test_create_a_token_in_notebook7(notebook7_page: Page, prefix: str) -> None:
    create_a_token(notebook7_page, f"{prefix} from Notebook 7")


def test_sort_by_a_header_and_copy_a_guid_in_notebook7(
    notebook7_page: Page, api: Api, prefix: str
) -> None:
    page = notebook7_page
    first = api.token(f"{prefix} first", ["analytics"])
    api.token(f"{prefix} second", ["ml"])
    page.get_by_test_id("name-filter").fill(prefix)
    names = page.get_by_test_id("row").get_by_test_id("name")
    expect(names).to_have_text([f"{prefix} first", f"{prefix} second"])

    # A click on the header sorts the grid; the notebook around it must not take the click.
    header = page.get_by_test_id("sort-name")
    header.click()
    expect(header.locator("..")).to_have_attribute("aria-sort", "descending")
    expect(names).to_have_text([f"{prefix} second", f"{prefix} first"])

    row = page.get_by_test_id("row").filter(has=page.get_by_text(f"{prefix} first", exact=True))
    copy = row.get_by_role("button", name="Copy GUID")
    copy.click()
    expect(copy).to_have_attribute("title", "Copied")  # set once the clipboard took it
    assert page.evaluate("navigator.clipboard.readText()") == first.guid
