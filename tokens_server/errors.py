"""Domain errors, raised below the handlers; one middleware turns them into problem+json."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class ApiError(Exception):
    """An error the client is told about, as RFC 9457 problem details."""

    status = 500
    title = "Internal error"
    slug = "internal"

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.headers: dict[str, str] = {}

    def to_problem(self) -> dict[str, object]:
        problem: dict[str, object] = {
            "type": f"/problems/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            problem["errors"] = [{"field": e.field, "message": e.message} for e in self.errors]
        return problem


class BadRequest(ApiError):
    status, title, slug = 400, "Malformed request", "malformed"


class Unauthorized(ApiError):
    status, title, slug = 401, "Not authenticated", "unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers["WWW-Authenticate"] = 'Bearer realm="tokens"'


class Forbidden(ApiError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(ApiError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(ApiError):
    status, title, slug = 409, "Conflict", "conflict"


class TokenLimitReached(Conflict):
    """A user holds as many tokens as a user may (admins have no limit)."""

    title, slug = "Token limit reached", "token-limit"


class PreconditionFailed(ApiError):
    status, title, slug = 412, "Precondition failed", "stale"


class PayloadTooLarge(ApiError):
    status, title, slug = 413, "Request body too large", "too-large"


class UnsupportedMediaType(ApiError):
    status, title, slug = 415, "Unsupported media type", "media-type"


class Invalid(ApiError):
    status, title, slug = 422, "Invalid request", "invalid"

    @classmethod
    def field(cls, field: str, message: str) -> Invalid:
        return cls(f"{field}: {message}", [FieldError(field, message)])


class TooManyRequests(ApiError):
    status, title, slug = 429, "Too many failed attempts", "throttled"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.headers["Retry-After"] = str(retry_after)


class Unavailable(ApiError):
    status, title, slug = 503, "Database unavailable", "unavailable"


class Overloaded(ApiError):
    status, title, slug = 503, "Server saturated", "overloaded"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.headers["Retry-After"] = str(retry_after)
