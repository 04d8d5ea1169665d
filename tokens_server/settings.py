"""Settings: one frozen dataclass, read from ``TOKENS_*`` variables and overridden by CLI flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import platformdirs

MAX_BODY_BYTES = 1024 * 1024
MIN_SECRET_KEY_LENGTH = 16
# A person chooses TOKENS_ADMIN_KEY; server-made keys carry 256 random bits (43 characters).
# 32 characters keep a chosen key out of reach of guessing even at the throttle's limit.
ADMIN_KEY_MIN_LENGTH = 32


class SettingsError(ValueError):
    """A setting has a value the server cannot run with."""


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("tokens", appauthor=False))


@dataclass(frozen=True)
class DataFiles:
    """Every file the server keeps in its data directory, all owner-only."""

    root: Path

    @property
    def lock(self) -> Path:
        """Held by the running server, so a second one on the same directory refuses to start."""
        return self.root / "server.lock"

    @property
    def database(self) -> Path:
        """The embedded database's storage (a directory)."""
        return self.root / "db"

    @property
    def database_log(self) -> Path:
        return self.root / "db.log"

    @property
    def database_config(self) -> Path:
        return self.root / "db.toml"

    @property
    def database_uri(self) -> Path:
        """The embedded database's connection URI, credentials included."""
        return self.root / "db.uri"

    @property
    def admin_key(self) -> Path:
        """The first admin's API key, when the server made it."""
        return self.root / "admin.key"

    @property
    def secret_key(self) -> Path:
        return self.root / "secret.key"

    @property
    def next_secret_key(self) -> Path:
        """The new secret key while a rotation with key files is unfinished."""
        return self.root / "secret.key.new"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    # None starts the embedded database in the data directory.
    mongo_uri: str | None = field(default=None, repr=False)  # may carry a password
    db_name: str = "tokens"
    data_dir: Path = field(default_factory=default_data_dir)
    admin_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    # Opens GUIDs sealed before a rotation to ``secret_key``; see README, "Rotating the secret key".
    previous_secret_key: str | None = field(default=None, repr=False)
    # How long a request waits for the database before answering 503.
    db_timeout_ms: int = 1500
    # Lists get longer: they cost what the caller can see, and a slow page beats a 503.
    list_timeout_ms: int = 10_000
    # How many tokens one user may hold (tokens it created and not deleted); admins: no limit.
    max_tokens_per_user: int = 1000
    # Failed authentications one client address may make per window before it gets 429.
    auth_failure_limit: int = 20
    auth_failure_window_s: int = 60
    # Requests served at once (all but /health and /openapi.json); more answer 503 at once,
    # before they queue for the database and time out there.
    max_in_flight: int = 128

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``TOKENS_*`` variables; keyword overrides that are None are ignored."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if "TOKENS_HOST" in env:
            values["host"] = env["TOKENS_HOST"]
        if "TOKENS_PORT" in env:
            values["port"] = _port(env["TOKENS_PORT"], "TOKENS_PORT")
        if env.get("TOKENS_MONGO_URI"):
            values["mongo_uri"] = env["TOKENS_MONGO_URI"]
        if "TOKENS_DB" in env:
            values["db_name"] = env["TOKENS_DB"]
        if env.get("TOKENS_DATA_DIR"):
            values["data_dir"] = Path(env["TOKENS_DATA_DIR"])
        if env.get("TOKENS_ADMIN_KEY"):
            values["admin_key"] = env["TOKENS_ADMIN_KEY"]
        if env.get("TOKENS_SECRET_KEY"):
            values["secret_key"] = env["TOKENS_SECRET_KEY"]
        if env.get("TOKENS_PREVIOUS_SECRET_KEY"):
            values["previous_secret_key"] = env["TOKENS_PREVIOUS_SECRET_KEY"]
        if "TOKENS_MAX_IN_FLIGHT" in env:
            values["max_in_flight"] = _positive(env["TOKENS_MAX_IN_FLIGHT"], "TOKENS_MAX_IN_FLIGHT")
        if env.get("TOKENS_LIST_TIMEOUT_MS"):
            values["list_timeout_ms"] = _positive(
                env["TOKENS_LIST_TIMEOUT_MS"], "TOKENS_LIST_TIMEOUT_MS"
            )
        if env.get("TOKENS_MAX_TOKENS_PER_USER"):
            values["max_tokens_per_user"] = _positive(
                env["TOKENS_MAX_TOKENS_PER_USER"], "TOKENS_MAX_TOKENS_PER_USER"
            )
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        _port(str(self.port), "port")
        if not self.db_name or any(c in self.db_name for c in '/\\. "$\0'):
            raise SettingsError(f"database name {self.db_name!r} is not a valid MongoDB name")
        if self.admin_key is not None:
            _check_admin_key(self.admin_key)
        _positive(str(self.max_in_flight), "max_in_flight")
        _positive(str(self.list_timeout_ms), "list_timeout_ms")
        _positive(str(self.max_tokens_per_user), "max_tokens_per_user")
        if self.secret_key is not None and len(self.secret_key) < MIN_SECRET_KEY_LENGTH:
            raise SettingsError(
                f"TOKENS_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters"
            )
        if self.previous_secret_key is not None and self.secret_key is None:
            raise SettingsError("TOKENS_PREVIOUS_SECRET_KEY needs TOKENS_SECRET_KEY (the new key)")

    @property
    def files(self) -> DataFiles:
        return DataFiles(self.data_dir)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _port(text: str, name: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise SettingsError(f"{name} must be a port number, not {text!r}") from None
    if not 0 <= port <= 65535:
        raise SettingsError(f"{name} must be between 0 and 65535, not {port}")
    return port


def _positive(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {text!r}") from None
    if value < 1:
        raise SettingsError(f"{name} must be at least 1, not {value}")
    return value


def _check_admin_key(key: str) -> None:
    """The key travels in an HTTP header: visible ASCII only, so it arrives as configured."""
    if len(key) < ADMIN_KEY_MIN_LENGTH:
        raise SettingsError(f"TOKENS_ADMIN_KEY must be at least {ADMIN_KEY_MIN_LENGTH} characters")
    if not all("!" <= c <= "~" for c in key):
        raise SettingsError("TOKENS_ADMIN_KEY may hold only visible ASCII characters (no spaces)")
