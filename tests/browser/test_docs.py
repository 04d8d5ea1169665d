"""The interactive API documentation in a real browser: it renders every operation of the
served document, and no request from the page leaves the server's origin."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Browser, expect

from tests.live_server import LiveServer
from tokens_server.http.routes import OPERATIONS


def test_the_docs_render_every_operation_from_the_server_alone(
    live_server: LiveServer, browser: Browser
) -> None:
    origin = urlsplit(live_server.url).netloc
    page = browser.new_page()
    requested: list[str] = []
    refused: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    try:
        page.goto(f"{live_server.url}/api/v1/docs")
        expect(page.get_by_text("Tokens API", exact=False).first).to_be_visible(timeout=15_000)
        for op in OPERATIONS:
            summary = page.locator(".opblock-summary-description", has_text=op.summary)
            expect(summary.first).to_be_attached()
        # One operation opens and shows its parameters, read from the document.
        page.locator(".opblock-summary", has_text="List the tokens you can see").first.click()
        expect(page.locator(".parameters-col_name", has_text="limit").first).to_be_visible()
    finally:
        page.close()
    assert requested, "the page made no request"
    assert {urlsplit(url).netloc for url in requested if not url.startswith("data:")} == {origin}
    assert any(url.endswith("/api/v1/openapi.json") for url in requested)
    assert refused == []
