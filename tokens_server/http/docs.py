"""``/api/v1/docs``: the interactive API documentation, rendered in the browser from the
served OpenAPI document by Swagger UI, whose files come from a Python package. No request from
the page leaves the server's origin (its Content-Security-Policy holds the browser to that).

Only the files the page names are served: Swagger UI's folder also holds a stock page and a
script that point at an outside example API, which have no business on this server.

These are pages, not operations of the API: they are not in the operation table or the
document, and they need no key (the document is public; calls made from the page send the key
given to its Authorize button).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from swagger_ui_bundle import swagger_ui_path

DOCS = "/api/v1/docs"
_SWAGGER_UI = Path(str(swagger_ui_path))
# Each file the page names, by the path it is served at under DOCS; nothing else is served.
_ASSETS = {
    "ui/swagger-ui.css": _SWAGGER_UI / "swagger-ui.css",
    "ui/favicon-32x32.png": _SWAGGER_UI / "favicon-32x32.png",
    "ui/swagger-ui-bundle.js": _SWAGGER_UI / "swagger-ui-bundle.js",
    "own/docs.js": Path(__file__).parent / "static" / "docs.js",
}
# Swagger UI sets styles inline, and shows data: images; nothing else is allowed but the origin.
_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tokens API</title>
<link rel="stylesheet" href="docs/ui/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/ui/favicon-32x32.png">
</head>
<body>
<div id="docs"></div>
<script src="docs/ui/swagger-ui-bundle.js"></script>
<script src="docs/own/docs.js"></script>
</body>
</html>
"""


async def _page(request: web.Request) -> web.Response:
    return web.Response(text=_PAGE, content_type="text/html")


def _asset(path: Path) -> Callable[[web.Request], Awaitable[web.FileResponse]]:
    async def serve(request: web.Request) -> web.FileResponse:
        return web.FileResponse(path)

    return serve


async def _policy(request: web.Request, response: web.StreamResponse) -> None:
    if request.path == DOCS or request.path.startswith(f"{DOCS}/"):
        response.headers["Content-Security-Policy"] = _POLICY


def add_docs(app: web.Application) -> None:
    app.router.add_get(DOCS, _page)
    for name, path in _ASSETS.items():
        app.router.add_get(f"{DOCS}/{name}", _asset(path))
    app.on_response_prepare.append(_policy)
