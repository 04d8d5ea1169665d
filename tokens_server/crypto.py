"""Secrets at rest: GUIDs are stored encrypted, found by a keyed hash, listed by a short prefix.

A database dump alone yields no usable token: it holds AES-GCM ciphertexts, HMACs and the first
``PREFIX_LENGTH`` characters of each GUID (32 of its 122 random bits), never a whole GUID.
User API keys are stored only as SHA-256 hashes: they carry 256 random bits, so a slow password
hash would add latency to every request and no security.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX_LENGTH = 8
_NONCE_BYTES = 12
_KEY_FILE = "secret.key"


class GuidCipher:
    """Encrypts, decrypts and hashes GUIDs with subkeys derived from one master secret."""

    def __init__(self, master: bytes) -> None:
        self._aead = AESGCM(_derive(master, b"tokens/guid-encryption"))
        self._mac_key = _derive(master, b"tokens/guid-lookup")

    def encrypt(self, guid: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, guid.encode(), b"guid")

    def decrypt(self, sealed: bytes) -> str:
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        return self._aead.decrypt(nonce, ciphertext, b"guid").decode()

    def lookup_hash(self, guid: str) -> str:
        return hmac.new(self._mac_key, guid.lower().encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def prefix(guid: str) -> str:
        return guid[:PREFIX_LENGTH].lower()


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    return "tk_" + secrets.token_urlsafe(32)


def _derive(master: bytes, purpose: bytes) -> bytes:
    return hmac.new(master, purpose, hashlib.sha256).digest()


def load_master_secret(configured: str | None, data_dir: Path) -> bytes:
    """The configured secret, else the one kept in ``data_dir``, created there (mode 0600) once.

    Several instances behind a load balancer must share it: set ``TOKENS_SECRET_KEY`` on each.
    """
    if configured is not None:
        return hashlib.sha256(configured.encode()).digest()
    path = data_dir / _KEY_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return base64.b64decode(path.read_text().strip())
    secret = os.urandom(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(secret).decode() + "\n")
    return secret
