"""The secret keys that seal GUIDs: the current one, and while a rotation runs, the previous one.

Keys come from ``TOKENS_SECRET_KEY`` (and ``TOKENS_PREVIOUS_SECRET_KEY``), else from files in
the data directory: ``secret.key``, and while a rotation started there is unfinished,
``secret.key.new``, which is then the current key and ``secret.key`` the previous one (see
``settings.DataFiles``). New
GUIDs are sealed under the current key; a stored GUID names the key that sealed it, so both
read. Whether these are the keys the database was sealed with is ``key_check``'s concern.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag

from tokens_server.data_files import DataFiles
from tokens_server.owner_only import FILE_MODE
from tokens_server.secrets.crypto import GuidCipher
from tokens_server.settings import Settings

_KEY_BYTES = 32


class SecretKeyError(Exception):
    """A secret key is missing, malformed or not the one that sealed the stored GUIDs."""


@dataclass(frozen=True)
class SecretKey:
    cipher: GuidCipher
    # Where it came from, for messages: a variable's name or a file's path, never the key.
    source: str

    @property
    def id(self) -> str:
        return self.cipher.key_id

    def describe(self) -> str:
        return f"the secret key from {self.source} (key id {self.id})"


class Keyring:
    """The current key seals; the current and the previous one open and find."""

    def __init__(self, current: SecretKey, previous: SecretKey | None = None) -> None:
        self.current = current
        # The same key given twice is no rotation: nothing to fall back to.
        self.previous = None if previous is None or previous.id == current.id else previous

    @property
    def keys(self) -> list[SecretKey]:
        return [self.current] if self.previous is None else [self.current, self.previous]

    @property
    def ids(self) -> list[str]:
        return [key.id for key in self.keys]

    def lookup_hashes(self, guid: str) -> list[str]:
        """The GUID's lookup hash under each key, the current key's first."""
        return [key.cipher.lookup_hash(guid) for key in self.keys]

    def open(self, sealed: bytes, key_id: str | None) -> str:
        """The GUID ``sealed`` under the key ``key_id``; untagged (sealed before keys were
        tagged): by whichever key opens it. Raises InvalidTag when that key does not."""
        if key_id is not None:
            key = next((k for k in self.keys if k.id == key_id), None)
            if key is None:
                raise SecretKeyError(f"a GUID is sealed by key {key_id}, which is not configured")
            return key.cipher.decrypt(sealed)
        for key in self.keys[:-1]:
            with contextlib.suppress(InvalidTag):
                return key.cipher.decrypt(sealed)
        return self.keys[-1].cipher.decrypt(sealed)

    def opens(self, sealed: bytes, key_id: str | None) -> bool:
        try:
            self.open(sealed, key_id)
        except (InvalidTag, SecretKeyError):
            return False
        return True


def key_from_text(text: str, source: str) -> SecretKey:
    """A key given as a variable: any text, hashed to the 32 bytes the ciphers derive from."""
    return SecretKey(GuidCipher(hashlib.sha256(text.encode()).digest()), source)


def load_keyring(settings: Settings) -> Keyring | None:
    """The configured keys; None when there is none yet (no variable, no file)."""
    if settings.secret_key is not None:
        previous = settings.previous_secret_key
        return Keyring(
            key_from_text(settings.secret_key, "TOKENS_SECRET_KEY"),
            None if previous is None else key_from_text(previous, "TOKENS_PREVIOUS_SECRET_KEY"),
        )
    files = settings.files
    key = _read_key_file(files.secret_key)
    next_key = _read_key_file(files.next_secret_key)
    if key is None:
        if next_key is not None:
            raise SecretKeyError(
                f"{files.secret_key} is missing but {files.next_secret_key.name} exists: "
                "restore the previous key file to finish the rotation"
            )
        return None
    return Keyring(key) if next_key is None else Keyring(next_key, key)


def create_key_file(path: Path) -> None:
    """Write a new random key to ``path`` (owner-only) unless the file exists."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    except OSError as error:
        raise SecretKeyError(f"cannot write the secret key {path}: {_reason(error)}") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(os.urandom(_KEY_BYTES)).decode() + "\n")
        handle.flush()
        os.fsync(handle.fileno())  # a key lost to a crash would leave its GUIDs unreadable


def promote_next_key_file(files: DataFiles) -> None:
    """End a rotation started with files: the new key becomes ``secret.key``, the old is gone."""
    os.replace(files.next_secret_key, files.secret_key)


def _read_key_file(path: Path) -> SecretKey | None:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise SecretKeyError(f"cannot read the secret key {path}: {_reason(error)}") from None
    try:
        master = base64.b64decode(text, validate=True)
    except binascii.Error:
        master = b""
    if len(master) != _KEY_BYTES:
        raise SecretKeyError(
            f"the secret key {path} is malformed: it must hold {_KEY_BYTES} bytes in base64 "
            f"(44 characters); restore the file that sealed the stored GUIDs"
        )
    return SecretKey(GuidCipher(master), str(path))


def _reason(error: Exception) -> str:
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return "not text"
