"""Domain errors, raised below the handlers with the data they need. They know nothing of HTTP:
``problems.py`` alone says which status, type and title each one is answered with."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class DomainError(Exception):
    """A refusal the client is told about: ``detail`` says why, ``errors`` names fields."""

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class BadRequest(DomainError):
    """The request cannot be read at all (not JSON, not an object)."""


class Unauthorized(DomainError):
    """No caller could be made out of the request's credentials."""


class Forbidden(DomainError):
    """The caller is known but may not do this."""


class NotFound(DomainError):
    """There is nothing the caller can see under this name."""


class Conflict(DomainError):
    """The change contradicts the state it would apply to."""


class TokenLimitReached(Conflict):
    """A user holds as many tokens as a user may (admins have no limit)."""


class PreconditionFailed(DomainError):
    """The caller's expected version is not the current one."""


class PayloadTooLarge(DomainError):
    """The request body is longer than any request needs."""


class UnsupportedMediaType(DomainError):
    """The request body is not declared as JSON."""


class Invalid(DomainError):
    """The request is readable but breaks a rule; ``errors`` names the fields."""

    @classmethod
    def field(cls, field: str, message: str) -> Invalid:
        return cls(f"{field}: {message}", [FieldError(field, message)])


class TooManyRequests(DomainError):
    """Too many failed attempts from one address; try again after ``retry_after`` seconds."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class TooManyStreams(TooManyRequests):
    """The caller has as many event streams open as one user may; one must end first."""


class Overloaded(DomainError):
    """The server serves as many requests as it may; try again after ``retry_after`` seconds."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class StorageError(DomainError):
    """The database failed; the repository raises these in place of the driver's errors."""


class Unavailable(StorageError):
    """The database did not answer in time, or the connection to it was lost."""


class StorageFailed(StorageError):
    """The database answered with an error no rule expects; a fault to log, not to explain."""
