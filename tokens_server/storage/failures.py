"""The driver's errors stop here: above the repository a failed database is a domain error.

Timeouts and lost connections become ``Unavailable`` (the client may try again shortly); any
other driver error becomes ``StorageFailed`` (a fault, logged with its trace by the server).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from pymongo.errors import ConnectionFailure, PyMongoError

from tokens_server.domain.errors import StorageFailed, Unavailable

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", bound=type)


def _translated(error: PyMongoError) -> Exception:
    if isinstance(error, ConnectionFailure) or error.timeout:
        log.warning("database unavailable: %s", type(error).__name__)
        return Unavailable("the database did not answer; try again shortly")
    return StorageFailed(f"the database failed: {type(error).__name__}")


def speaks_domain_errors(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """``method`` raising domain errors in place of the driver's."""

    @functools.wraps(method)
    async def translating(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except PyMongoError as error:
            raise _translated(error) from error

    return translating


def untranslated(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Mark a method whose driver errors must pass through: one that runs inside a transaction
    (which runs again on a write conflict), or runs one for another store's method, which
    translates what is left."""
    method.__untranslated__ = True  # type: ignore[attr-defined]
    return method


def store(cls: C) -> C:
    """A store class whose every public coroutine method speaks domain errors, but those marked
    ``untranslated``."""
    for name, member in list(vars(cls).items()):
        if getattr(member, "__untranslated__", False):
            continue
        if not name.startswith("_") and inspect.iscoroutinefunction(member):
            setattr(cls, name, speaks_domain_errors(member))
    return cls
