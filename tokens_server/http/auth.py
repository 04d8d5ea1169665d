"""Who is calling: a Bearer key, looked up by its hash.

Wrong keys are counted per client address in the database; past the limit the address gets 429
until its window ends, for anything but a valid key. A valid key always works, also from a
throttled address: many users share one (a notebook server that every widget calls from), and
one bad script there must not lock them all out. Server-made keys carry 256 random bits and a
configured admin key at least 32 characters, so no throttle is needed to keep them safe; it
keeps guessing expensive and cheap to refuse.

Costs, per request without a valid key: none for a missing or malformed header; one read (the
key lookup) and one unjournaled counter write for a wrong key; only the read once this instance
knows the address is over the limit.
"""

from __future__ import annotations

import math
from datetime import datetime

from aiohttp import web

from tokens_server.domain.errors import TooManyRequests, Unauthorized
from tokens_server.domain.models import Caller, utcnow
from tokens_server.http.state import REPOSITORY, SETTINGS, THROTTLED
from tokens_server.secrets.crypto import hash_api_key

# Longer than any key the server makes or accepts as TOKENS_ADMIN_KEY, with room to spare.
MAX_KEY_LENGTH = 512


def bearer_key(header: str | None) -> str | None:
    """The key of ``Authorization: Bearer <key>``, or None when there is no well-formed one.

    Keys are visible ASCII: anything else (bytes that are not UTF-8 arrive as lone surrogates)
    cannot be a key, so it is refused without a lookup.
    """
    scheme, _, key = (header or "").partition(" ")
    key = key.strip(" \t")
    if scheme.lower() != "bearer" or not key or len(key) > MAX_KEY_LENGTH:
        return None
    # Visible ASCII is printable ASCII but the space; checked in C, not character by character.
    if not (key.isascii() and key.isprintable()) or " " in key:
        return None
    return key


async def authenticate(request: web.Request) -> Caller:
    now = utcnow()
    address = request.remote or "unknown"
    throttled_until = request.app[THROTTLED].until(address, now)
    key = bearer_key(request.headers.get("Authorization"))
    if key is None:
        if throttled_until is not None:
            raise _too_many(throttled_until, now)
        raise Unauthorized("send your API key as 'Authorization: Bearer <key>'")
    caller = await _caller_of(request, key)
    if caller is not None:
        return caller
    if throttled_until is None:
        throttled_until = await _count_failure(request, address, now)
    if throttled_until is not None:
        raise _too_many(throttled_until, now)
    raise Unauthorized("the API key is not known; it may have been rotated")


async def current_caller(request: web.Request, changed: str | None = None) -> Caller | None:
    """Who the request's key belongs to now, if anyone: a long request (a stream) asks again,
    as the key may have been rotated or the scopes changed since.

    ``changed``: the id of a user an event says was changed. The event may have been read from
    the collection before this process's change stream told memory, so memory forgets the user
    first and the answer comes from the database.
    """
    key = bearer_key(request.headers.get("Authorization"))
    if changed is not None:
        request.app[REPOSITORY].memory.forget_user(changed)
    return None if key is None else await _caller_of(request, key)


async def _caller_of(request: web.Request, key: str) -> Caller | None:
    return await request.app[REPOSITORY].users.caller_by_key_hash(hash_api_key(key))


async def _count_failure(request: web.Request, address: str, now: datetime) -> datetime | None:
    """Count the failure; answer the window's end if the address is now over the limit."""
    count, window_ends = await request.app[REPOSITORY].auth_failures.add(address, now)
    if count <= request.app[SETTINGS].auth_failure_limit:
        return None
    request.app[THROTTLED].throttle(address, window_ends, now)
    return window_ends


def _too_many(until: datetime, now: datetime) -> TooManyRequests:
    wait = max(1, math.ceil((until - now).total_seconds()))
    return TooManyRequests(f"too many failed authentications; try again in {wait} s", wait)
