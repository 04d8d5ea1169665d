"""/api/v1/docs: a page and the files it needs, all from the server, held to its origin."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient
from yarl import URL

Client = TestClient[Any, Any]


async def test_the_docs_page_and_every_file_it_names_are_served(client: Client) -> None:
    page = await client.get("/api/v1/docs")
    assert page.status == 200 and page.content_type == "text/html"
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "connect-src 'self'" in policy
    html = await page.text()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) == 4
    for asset in assets:
        assert not asset.startswith(("http:", "https:", "//")), asset
        served = await client.get(f"/api/v1/{asset}")
        assert served.status == 200, asset
        assert "Content-Security-Policy" in served.headers
        assert len(await served.read()) > 100
    script = await (await client.get("/api/v1/docs/own/docs.js")).text()
    assert 'url: "openapi.json"' in script and "validatorUrl: null" in script


async def test_only_the_files_the_page_names_are_served(client: Client) -> None:
    # Swagger UI's folder also holds a stock page and a script that point at an outside example
    # API, and the files of other builds: none of them belong on this server.
    for name in ("index.html", "swagger-initializer.js", "oauth2-redirect.html",
                 "swagger-ui.js", "swagger-ui-bundle.js.map", "favicon-16x16.png", ""):
        assert (await client.get(f"/api/v1/docs/ui/{name}")).status == 404, name
    assert (await client.get("/api/v1/docs/own/")).status == 404


async def test_the_docs_need_no_key_but_the_api_still_does(client: Client) -> None:
    assert (await client.get("/api/v1/docs")).status == 200
    assert (await client.get("/api/v1/tokens")).status == 401
    # The asset folders hold their files in: the server's own code next to them is not served.
    outside = URL("/api/v1/docs/own/%2e%2e/docs.py", encoded=True)
    answer = await client.get(outside)
    assert answer.status in (403, 404)
    assert "swagger_ui_bundle" not in await answer.text()
