"""The application factory. ``create_app`` does no I/O; resources open in cleanup contexts."""

from __future__ import annotations

from aiohttp import web

from tokens_server.http.docs import add_docs
from tokens_server.http.overload import InFlight
from tokens_server.http.problems import problem_middleware
from tokens_server.http.routes import add_routes
from tokens_server.http.state import IN_FLIGHT, SETTINGS, THROTTLED
from tokens_server.http.throttled import ThrottledAddresses
from tokens_server.lifespan import embedded_database, event_feed, last_use_writer
from tokens_server.settings import MAX_BODY_BYTES, Settings
from tokens_server.startup import repository


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[problem_middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    app[SETTINGS] = settings
    app[THROTTLED] = ThrottledAddresses()
    app[IN_FLIGHT] = InFlight(settings.max_in_flight)
    # In this order: the repository connects to the database the first context started.
    app.cleanup_ctx.append(embedded_database)
    app.cleanup_ctx.append(repository)
    app.cleanup_ctx.append(last_use_writer)
    app.cleanup_ctx.append(event_feed)
    add_routes(app)
    add_docs(app)
    app.on_response_prepare.append(_security_headers)
    return app


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")
