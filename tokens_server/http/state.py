"""Every piece of application state, each under its own typed key."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tokens_server.embedded import EmbeddedDatabase
    from tokens_server.http.overload import InFlight
    from tokens_server.http.throttled import ThrottledAddresses
    from tokens_server.live.feed import EventFeed
    from tokens_server.secrets.keyring import Keyring
    from tokens_server.settings import Settings
    from tokens_server.storage import Repository

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
EMBEDDED_DB: web.AppKey[EmbeddedDatabase | None] = web.AppKey("embedded_db")
REPOSITORY: web.AppKey[Repository] = web.AppKey("repository")
KEYRING: web.AppKey[Keyring] = web.AppKey("keyring")
FEED: web.AppKey[EventFeed] = web.AppKey("feed")
THROTTLED: web.AppKey[ThrottledAddresses] = web.AppKey("throttled")
IN_FLIGHT: web.AppKey[InFlight] = web.AppKey("in_flight")
# The OpenAPI document of the routes the app serves, built from the operation table when first
# asked for (then kept): building it takes a third of a second that a start need not wait for.
OPENAPI: web.AppKey[Callable[[], dict[str, Any]]] = web.AppKey("openapi")
