"""The data directory's files, named in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
