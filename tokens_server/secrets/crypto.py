"""Secrets at rest: GUIDs are stored encrypted, found by a keyed hash, listed by a short prefix.

A database dump alone yields no usable token: it holds AES-GCM ciphertexts, HMACs and the first
``PREFIX_LENGTH`` characters of each GUID (32 of its 122 random bits), never a whole GUID.
User API keys are stored only as SHA-256 hashes: they carry 256 random bits, so a slow password
hash would add latency to every request and no security. Where master secrets come from, and which
of them sealed what, is ``keyring``'s concern.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX_LENGTH = 8
_NONCE_BYTES = 12
# 64 bits: enough to tell keys apart, and one-way, so a key id may be stored and printed.
_KEY_ID_HEX = 16


class GuidCipher:
    """Encrypts, decrypts and hashes GUIDs with subkeys derived from one master secret."""

    def __init__(self, master: bytes) -> None:
        self._aead = AESGCM(_derive(master, b"tokens/guid-encryption"))
        self._mac_key = _derive(master, b"tokens/guid-lookup")
        self.key_id = _derive(master, b"tokens/key-id").hex()[:_KEY_ID_HEX]

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
