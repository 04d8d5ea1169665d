"""Settings: one frozen dataclass, and one table saying which ``TOKENS_*`` variable and which
command-line flag set each field, how its text is read and what it means.

An empty variable counts as unset, for every variable: ``TOKENS_PORT=`` leaves the default, as
an absent one does. Values are checked when a ``Settings`` is made, however it is made.

A field may be given two ways (the MongoDB URI: as text, or as a file holding it, since a
command line is visible to every local user); giving both is an error, not a choice.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs

from tokens_server.data_files import DataFiles
from tokens_server.setting_values import (
    at_least_one,
    at_least_zero,
    count,
    port,
    positive,
    uri_in_file,
    valid_admin_key,
    valid_port,
    valid_secret_key,
)

MAX_BODY_BYTES = 1024 * 1024
_INVALID_DB_NAME_CHARACTERS = '/\\. "$\0'
_URI_CREDENTIALS = re.compile(r"//([^@/]*)@")


class SettingsError(ValueError):
    """A setting has a value the server cannot run with."""


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("tokens", appauthor=False))


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
    # How long the history keeps an event, and usage its counts of an hour; database indexes
    # remove older ones.
    event_retention_days: int = 400
    usage_retention_days: int = 400
    # Requests served at once (all but /health and /openapi.json); more answer 503 at once,
    # before they queue for the database and time out there.
    max_in_flight: int = 128
    # Open event streams (/events/stream) one process feeds; more answer 503 at once.
    max_subscribers: int = 1000
    # Open event streams one user may have on one process; more answer 429, so that one user
    # (or one client reconnecting in a loop) cannot take every slot. Each open grid holds one,
    # and a notebook's kernel keeps following after its tab is closed: a person at work has a
    # handful, hence not fewer.
    max_streams_per_user: int = 32
    # Tokens and users each process keeps in memory for verify, get and authentication.
    memory_tokens: int = 100_000
    memory_users: int = 10_000
    # Tokens each process keeps sorted in memory to answer lists; with more, lists read the
    # database (slower, as exact).
    list_memory_tokens: int = 100_000

    def __post_init__(self) -> None:
        for option in OPTIONS:
            value = getattr(self, option.field)
            if value is None or option.check is None:
                continue
            try:
                option.check(value)
            except SettingsError:
                raise
            except ValueError as error:
                raise SettingsError(f"{option.variable} {error}") from None
        if self.previous_secret_key is not None and self.secret_key is None:
            raise SettingsError("TOKENS_PREVIOUS_SECRET_KEY needs TOKENS_SECRET_KEY (the new key)")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``TOKENS_*`` variables; keyword overrides that are None are ignored."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        given: dict[str, str] = {}
        for option in OPTIONS:
            text = env.get(option.variable, "")
            if text:
                if option.field in given:
                    raise SettingsError(
                        f"{given[option.field]} and {option.variable} are both set; give one"
                    )
                given[option.field] = option.variable
                values[option.field] = option.read(text, option.variable)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def secrets(self) -> list[str]:
        """What no output may show: the keys, and the password in the MongoDB URI."""
        password = password_in(self.mongo_uri or "")
        values = [self.admin_key, self.secret_key, self.previous_secret_key, password]
        return [value for value in values if value]

    @property
    def files(self) -> DataFiles:
        return DataFiles(self.data_dir)


def password_in(uri: str) -> str:
    """The password a MongoDB URI carries, or ""."""
    credentials = _URI_CREDENTIALS.search(uri)
    return credentials[1].partition(":")[2] if credentials else ""


def without_credentials(uri: str) -> str:
    return _URI_CREDENTIALS.sub("//", uri)


def _valid_db_name(name: str) -> None:
    if not name or any(c in name for c in _INVALID_DB_NAME_CHARACTERS):
        raise SettingsError(f"database name {name!r} is not a valid MongoDB name")


@dataclass(frozen=True)
class Option:
    """How one field of ``Settings`` is set from outside."""

    field: str
    variable: str
    help: str
    # Text to value; raises ValueError with a message that follows the variable's name.
    cast: Callable[[str], Any] = str
    # Checks a value however it was given; ValueError as for ``cast``, SettingsError whole.
    check: Callable[[Any], None] | None = None
    flag: str | None = None  # secrets have none: a command line is visible to every local user
    # README's default column where the field's own default is not what a reader needs.
    default: str | None = None

    def read(self, text: str, source: str) -> Any:
        try:
            return self.cast(text)
        except ValueError as error:
            raise SettingsError(f"{source} {error}") from None

    def default_text(self) -> str:
        """The default as README's configuration table writes it."""
        if self.default is not None:
            return self.default
        value = next(f for f in fields(Settings) if f.name == self.field).default
        return f"`{value}`"


OPTIONS = (
    Option("host", "TOKENS_HOST", "address to listen on", flag="--host"),
    Option("port", "TOKENS_PORT", "port to listen on, 0 for any free one", port, valid_port,
           flag="--port"),
    Option("mongo_uri", "TOKENS_MONGO_URI",
           "a MongoDB to use instead of the embedded database (a password given as a flag is "
           "visible to every local user: give such a URI as the variable or as a file)",
           flag="--mongo-uri", default="none: embedded database"),
    Option("mongo_uri", "TOKENS_MONGO_URI_FILE",
           "a file holding that URI, e.g. `<data dir>/db.uri` of the instance that runs the "
           "embedded database", uri_in_file, flag="--mongo-uri-file", default="none"),
    Option("db_name", "TOKENS_DB", "database name", check=_valid_db_name, flag="--db"),
    Option("data_dir", "TOKENS_DATA_DIR",
           "embedded database and its connection URI (`db.uri`), admin key, secret key",
           Path, flag="--data-dir", default="`~/.local/share/tokens`"),
    Option("admin_key", "TOKENS_ADMIN_KEY",
           "the first admin's API key (32+ visible ASCII characters), used once: only when the "
           "database never had an admin", check=valid_admin_key,
           default="random, written to `<data dir>/admin.key`"),
    Option("secret_key", "TOKENS_SECRET_KEY",
           "the secret that encrypts GUIDs at rest (16+ characters)", check=valid_secret_key,
           default="random, written to `<data dir>/secret.key`"),
    Option("previous_secret_key", "TOKENS_PREVIOUS_SECRET_KEY",
           "during a rotation only: the key being replaced, still accepted for reading",
           default="none"),
    Option("max_in_flight", "TOKENS_MAX_IN_FLIGHT",
           "requests served at once; more are answered 503 with `Retry-After` at once, and "
           "`/health` says `saturated`", positive, at_least_one),
    Option("max_tokens_per_user", "TOKENS_MAX_TOKENS_PER_USER",
           "tokens one user may hold (created and not deleted); admins have no limit",
           positive, at_least_one),
    Option("db_timeout_ms", "TOKENS_DB_TIMEOUT_MS",
           "how long a call may wait for the database before it answers 503 (lists: "
           "`TOKENS_LIST_TIMEOUT_MS`)", positive, at_least_one),
    Option("list_timeout_ms", "TOKENS_LIST_TIMEOUT_MS",
           "how long a list may take in the database before it answers 503",
           positive, at_least_one),
    Option("auth_failure_limit", "TOKENS_AUTH_FAILURE_LIMIT",
           "failed authentications one client address may make per window; more answer 429",
           positive, at_least_one),
    Option("auth_failure_window_s", "TOKENS_AUTH_FAILURE_WINDOW_S",
           "the window of that limit, in seconds", positive, at_least_one),
    Option("max_subscribers", "TOKENS_MAX_SUBSCRIBERS",
           "open event streams one process feeds; more are answered 503 with `Retry-After`",
           positive, at_least_one),
    Option("max_streams_per_user", "TOKENS_MAX_STREAMS_PER_USER",
           "open event streams one user may have on one process (admins too); more are "
           "answered 429 with `Retry-After`", positive, at_least_one),
    Option("event_retention_days", "TOKENS_EVENT_RETENTION_DAYS",
           "days the history keeps each event", positive, at_least_one),
    Option("usage_retention_days", "TOKENS_USAGE_RETENTION_DAYS",
           "days the usage counts of each token and hour are kept", positive, at_least_one),
    Option("memory_tokens", "TOKENS_MEMORY_TOKENS",
           "tokens each process keeps in memory for verify and get (the most recently used; "
           "0 reads every one from the database)", count, at_least_zero),
    Option("memory_users", "TOKENS_MEMORY_USERS",
           "users each process keeps in memory to authenticate (the most recently used)",
           count, at_least_zero),
    Option("list_memory_tokens", "TOKENS_LIST_MEMORY_TOKENS",
           "the most tokens each process keeps sorted in memory to answer lists; with more, "
           "lists are read from the database (0: always)", count, at_least_zero),
)  # fmt: skip
