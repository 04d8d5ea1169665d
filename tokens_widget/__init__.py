"""Manage API tokens from a notebook (``TokensWidget``) or from scripts (``TokensClient``)."""

from typing import TYPE_CHECKING

from .client import UNSET, TokensClient
from .errors import ApiError, FieldProblem
from .models import (
    Event,
    EventPage,
    FieldChange,
    Health,
    Scope,
    Token,
    TokenPage,
    User,
    UserWithKey,
    Verification,
    VerifiedToken,
)

if TYPE_CHECKING:
    from .widget import TokensWidget


def __getattr__(name: str) -> object:
    # The widget needs the "widget" extra (anywidget); scripts using only the client do not.
    if name == "TokensWidget":
        from .widget import TokensWidget

        return TokensWidget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "UNSET",
    "ApiError",
    "Event",
    "EventPage",
    "FieldChange",
    "FieldProblem",
    "Health",
    "Scope",
    "Token",
    "TokenPage",
    "TokensClient",
    "TokensWidget",
    "User",
    "UserWithKey",
    "Verification",
    "VerifiedToken",
]
