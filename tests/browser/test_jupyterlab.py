"""The demo notebook in JupyterLab itself, not Voila: what a person opening it there gets."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.browser.notebook_apps import create_a_token


def test_create_a_token_in_jupyterlab(lab_page: Page, prefix: str) -> None:
    create_a_token(lab_page, f"{prefix} from JupyterLab")
