"""Copies in this process of what the hot path reads: users by key hash, tokens by id and by GUID.

They answer exactly what the database would, save for the few milliseconds a change takes to
reach this process, because three rules hold. (Scopes are kept too, as one sorted list.)

- **Every change evicts.** The process's change stream reports each write to ``tokens``,
  ``users`` and ``scopes`` (``forget_*``), whichever instance or tool made it; a change
  made here is also forgotten at once, before its answer leaves. Save one: a write of a token's
  last use alone, whose value the stream brings, is taken into the copy (``take_use``).
- **Trusted only while heard.** The stream answers at least every half second; memory is used
  only if it answered within ``HEARD_WITHIN_S`` (``heard``). When the stream fails, everything
  is dropped (``lost``): changes made while nothing watched would never evict their copies.
- **No copy of a read raced by a change.** A document read from the database is kept only if
  nothing was forgotten while it was read (the ``epoch``): the read may have seen the document
  just before a change whose eviction came first.

Tokens are kept as the fields answers read (``HeldToken``), GUID sealed; it is opened per
answer, as from the database.
Users are kept as the ``Caller`` a request gets, built once per copy rather than per request.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import replace
from datetime import datetime
from typing import Generic, TypeVar

from tokens_server.domain.models import Caller, Scope
from tokens_server.storage.token_documents import HeldToken

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")

# The stream waits at most half a second for news; twice that plus slack means it is stuck.
HEARD_WITHIN_S = 1.5


class BoundedMap(Generic[K, V]):
    """A map of at most ``size`` entries; the least recently used goes first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: K) -> bool:
        return key in self._items

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> list[V]:
        """Keep ``value``; answer the values pushed out to make room."""
        self._items[key] = value
        self._items.move_to_end(key)
        pushed_out = []
        while len(self._items) > self.size:
            pushed_out.append(self._items.popitem(last=False)[1])
        return pushed_out

    def swap(self, key: K, change: Callable[[V], V]) -> None:
        """Change the value kept for ``key``, if any, in its place in the order."""
        value = self._items.get(key)
        if value is not None:
            self._items[key] = change(value)

    def pop(self, key: K) -> V | None:
        return self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()


class Memory:
    def __init__(
        self, max_tokens: int, max_users: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_tokens = max_tokens
        self._tokens: BoundedMap[str, HeldToken] = BoundedMap(max_tokens)
        self._token_of_hash: dict[str, str] = {}
        self._users: BoundedMap[str, Caller] = BoundedMap(max_users)
        self._key_of_user: dict[str, str] = {}
        self._scopes: list[Scope] | None = None  # every scope, or not known
        self._epoch = 0
        self._heard_at = float("-inf")
        self._clock = clock

    # The stream's side.

    def heard(self) -> None:
        """The change stream answered: everything before this moment has been forgotten."""
        self._heard_at = self._clock()

    def lost(self) -> None:
        """The change stream failed or closed: drop everything, trust nothing until heard."""
        self._heard_at = float("-inf")
        self._epoch += 1
        self._tokens.clear()
        self._token_of_hash.clear()
        self._users.clear()
        self._key_of_user.clear()
        self._scopes = None

    def forget_token(self, token_id: str) -> None:
        self._epoch += 1
        self._evict_token(token_id)

    def take_use(self, token_id: str, used_at: datetime) -> None:
        """A write that set the token's last use and nothing else: the copy takes it, rather
        than being forgotten. Uses are written every few seconds for every token in use, and
        forgetting them all would send each one's next answer to the database."""
        self._epoch += 1  # a read under way may have seen the token before this write
        self._tokens.swap(token_id, lambda held: _used(held, used_at))

    def forget_user(self, user_id: str) -> None:
        self._epoch += 1
        self._evict_user(user_id)

    def forget_scopes(self) -> None:
        self._epoch += 1
        self._scopes = None

    # The readers' side: look up; on a miss take a ticket, read the database, keep with it.

    @property
    def trusted(self) -> bool:
        return self._clock() - self._heard_at < HEARD_WITHIN_S

    @property
    def distrusted_because(self) -> str:
        """Why nothing is trusted, for /health: a just-opened stream has not answered yet."""
        if self._heard_at == float("-inf"):
            return "the change stream has not answered since it opened"
        return "the change stream has not answered for a while"

    def ticket(self) -> int | None:
        """Taken before a read from the database; None when what it reads may not be kept."""
        return self._epoch if self.trusted else None

    async def read_through(
        self,
        held: D | None,
        read: Callable[[], Awaitable[D | None]],
        keep: Callable[[int | None, D], None],
    ) -> D | None:
        """``held`` when memory had it; else what ``read`` finds in the database, kept (by
        ``keep``) unless a change raced the read. The one way every store reads through."""
        if held is not None:
            return held
        ticket = self.ticket()
        found = await read()
        if found is not None:
            keep(ticket, found)
        return found

    def token(self, token_id: str) -> HeldToken | None:
        return self._tokens.get(token_id) if self.trusted else None

    def token_by_hash(self, lookup_hashes: list[str]) -> HeldToken | None:
        """The token whose GUID has one of these keyed hashes (one per configured key)."""
        if not self.trusted:
            return None
        for lookup_hash in lookup_hashes:
            token_id = self._token_of_hash.get(lookup_hash)
            if token_id is not None:
                return self._tokens.get(token_id)
        return None

    def keep_token(self, ticket: int | None, held: HeldToken) -> None:
        if not self._may_keep(ticket):
            return
        token_id = held.id
        self._evict_token(token_id)  # an older copy may hold another GUID's hashes
        for lookup_hash in held.every_hash:
            self._token_of_hash[lookup_hash] = token_id
        # Hashes after the copy: with no room at all, the copy itself is pushed out.
        for pushed_out in self._tokens.put(token_id, held):
            self._drop_hashes(pushed_out)

    def caller(self, key_hash: str) -> Caller | None:
        """Who holds the key with this hash."""
        return self._users.get(key_hash) if self.trusted else None

    def keep_caller(self, ticket: int | None, key_hash: str, caller: Caller) -> None:
        if not self._may_keep(ticket):
            return
        self._evict_user(caller.user_id)  # an older copy may hold another key
        self._key_of_user[caller.user_id] = key_hash
        for pushed_out in self._users.put(key_hash, caller):
            self._key_of_user.pop(pushed_out.user_id, None)

    def scopes(self) -> list[Scope] | None:
        """Every scope, sorted by name, if known."""
        return self._scopes if self.trusted else None

    def keep_scopes(self, ticket: int | None, scopes: list[Scope]) -> None:
        if self._may_keep(ticket):
            self._scopes = scopes

    # What it holds, for the operator's numbers and the tests.

    def holds_token(self, token_id: str) -> bool:
        return token_id in self._tokens

    @property
    def sizes(self) -> tuple[int, int]:
        """Tokens and users held."""
        return len(self._tokens), len(self._users)

    @property
    def index_sizes(self) -> tuple[int, int]:
        """Entries of the maps from GUID hash and from user id: never more than their copies."""
        return len(self._token_of_hash), len(self._key_of_user)

    def _may_keep(self, ticket: int | None) -> bool:
        return ticket is not None and ticket == self._epoch and self.trusted

    def _evict_token(self, token_id: str) -> None:
        doc = self._tokens.pop(token_id)
        if doc is not None:
            self._drop_hashes(doc)

    def _evict_user(self, user_id: str) -> None:
        key_hash = self._key_of_user.pop(user_id, None)
        if key_hash is not None:
            self._users.pop(key_hash)

    def _drop_hashes(self, held: HeldToken) -> None:
        for lookup_hash in held.every_hash:
            self._token_of_hash.pop(lookup_hash, None)


def _used(held: HeldToken, used_at: datetime) -> HeldToken:
    # Never back: a use this copy knows of may be later than the one written.
    if held.last_used_at is not None and held.last_used_at >= used_at:
        return held
    return replace(held, last_used_at=used_at)
