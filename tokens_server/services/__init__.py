"""The rules: who may see and change what. Services take a caller and domain values, ask the
repository, and raise the domain errors of ``errors.py``; they know nothing of HTTP."""

from __future__ import annotations

from tokens_server.domain.errors import Forbidden
from tokens_server.domain.models import Caller


def require_admin(caller: Caller) -> None:
    if not caller.admin:
        raise Forbidden("only an admin may do this")
