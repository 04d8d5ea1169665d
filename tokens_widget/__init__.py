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
from .usage_models import (
    DayUsage,
    Refusals,
    TokenUsage,
    UsageBucket,
    UsageCounts,
    UsageSeries,
    UsageSummary,
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
    "DayUsage",
    "Event",
    "EventPage",
    "FieldChange",
    "FieldProblem",
    "Health",
    "Refusals",
    "Scope",
    "Token",
    "TokenPage",
    "TokenUsage",
    "TokensClient",
    "TokensWidget",
    "UsageBucket",
    "UsageCounts",
    "UsageSeries",
    "UsageSummary",
    "User",
    "UserWithKey",
    "Verification",
    "VerifiedToken",
]
