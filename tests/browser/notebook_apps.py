"""What a person does with the widget inside a notebook application (JupyterLab, Notebook 7),
written once and checked in each."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

VISIBLE_AND_ON_TOP = """dialog => {
  const box = dialog.getBoundingClientRect();
  const top = document.elementFromPoint(box.x + box.width / 2, box.y + 12);
  return box.top >= 0 && box.left >= 0 && box.bottom <= innerHeight && box.right <= innerWidth
    && dialog.contains(top);
}"""


def create_a_token(page: Page, name: str) -> None:
    """Create the token ``name`` (a name no other test's filter matches) through the widget."""
    cells = page.locator(".jp-Notebook .jp-Cell")
    count = cells.count()
    # Keys typed while a widget button has focus stay with the widget: in command mode a plain
    # "x" would otherwise cut the widget's own cell out of the notebook.
    page.get_by_test_id("sort-name").focus()
    page.keyboard.press("x")

    create = page.get_by_test_id("create")
    create.click()
    form = page.get_by_role("dialog", name="Create token")
    expect(form.get_by_label("Name")).to_be_focused()
    expect(form.get_by_test_id("form-guid")).to_have_value(re.compile(r"^[0-9a-f-]{36}$"))
    # Whole, inside the window, and above the application's panels rather than under them.
    assert form.evaluate(VISIBLE_AND_ON_TOP)
    form.get_by_label("Name").fill(name)
    form.locator("[data-scope=ml]").click()
    form.get_by_test_id("form-save").click()
    expect(form).to_have_count(0)
    expect(create).to_be_focused()
    expect(page.get_by_test_id("notice")).to_have_text(f"Token “{name}” created.")

    page.get_by_test_id("name-filter").fill(name)
    expect(page.get_by_test_id("row").get_by_test_id("name")).to_have_text([name])
    expect(cells).to_have_count(count)
