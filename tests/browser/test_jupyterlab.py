"""The demo notebook in JupyterLab itself, not Voila: what a person opening it there gets."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

VISIBLE_AND_ON_TOP = """dialog => {
  const box = dialog.getBoundingClientRect();
  const top = document.elementFromPoint(box.x + box.width / 2, box.y + 12);
  return box.top >= 0 && box.left >= 0 && box.bottom <= innerHeight && box.right <= innerWidth
    && dialog.contains(top);
}"""


def test_create_a_token_in_jupyterlab(lab_page: Page, prefix: str) -> None:
    page = lab_page
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
    # Whole, inside the window, and above JupyterLab's panels rather than under them.
    assert form.evaluate(VISIBLE_AND_ON_TOP)
    form.get_by_label("Name").fill(f"{prefix} from JupyterLab")
    form.locator("[data-scope=ml]").click()
    form.get_by_test_id("form-save").click()
    expect(form).to_have_count(0)
    expect(create).to_be_focused()
    expect(page.get_by_test_id("notice")).to_have_text(f"Token “{prefix} from JupyterLab” created.")

    page.get_by_test_id("name-filter").fill(prefix)
    expect(page.get_by_test_id("row").get_by_test_id("name")).to_have_text(
        [f"{prefix} from JupyterLab"]
    )
    expect(cells).to_have_count(count)
