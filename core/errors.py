"""Typed application errors. Services raise these; the API envelope renders them."""

from __future__ import annotations


class ApplicationError(Exception):
    """An error with a status code and a message that is safe to show to the caller.

    ``message`` and ``error``/``errors`` end up in the response body, so they must
    never contain a secret.
    """

    status_code = 400
    default_message = "Bad request"

    def __init__(
        self,
        message: str | None = None,
        *,
        error: str | None = None,
        errors: list[str] | None = None,
        status_code: int | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.error = error
        self.errors = errors
        if status_code is not None:
            self.status_code = status_code
        super().__init__(self.message)


class ValidationFailed(ApplicationError):
    status_code = 400
    default_message = "Validation error"

    def __init__(self, errors: list[str], message: str | None = None) -> None:
        super().__init__(message, errors=errors)


class NotFound(ApplicationError):
    status_code = 404
    default_message = "Not found"


class Conflict(ApplicationError):
    status_code = 409
    default_message = "Conflict"


class PreconditionFailed(ApplicationError):
    status_code = 412
    default_message = "Precondition failed"


class ServiceUnavailable(ApplicationError):
    status_code = 503
    default_message = "Service temporarily unavailable"


class TooManyRequests(ApplicationError):
    """A rate limit was reached; the response carries ``Retry-After: retry_after`` seconds."""

    status_code = 429
    default_message = "Too many requests"

    def __init__(self, message: str | None = None, *, retry_after: int, error: str | None = None) -> None:
        super().__init__(message, error=error)
        self.retry_after = retry_after
