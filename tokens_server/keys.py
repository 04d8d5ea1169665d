"""Every piece of application state, each under its own typed key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .embedded import EmbeddedDatabase
    from .keyring import Keyring
    from .models import Caller
    from .repository import Repository
    from .settings import Settings

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
EMBEDDED_DB: web.AppKey[EmbeddedDatabase | None] = web.AppKey("embedded_db")
REPOSITORY: web.AppKey[Repository] = web.AppKey("repository")
KEYRING: web.AppKey[Keyring] = web.AppKey("keyring")
CALLER: web.RequestKey[Caller] = web.RequestKey("caller")
