"""Failures a caller can act on.

Each carries a stable machine ``code``; the HTTP status for each class lives in exactly one place,
``http/middlewares.py``, so the domain never knows about HTTP.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class of every expected failure."""

    code = "invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """The request is malformed; ``field`` names the offending input when there is one."""

    code = "invalid_input"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """The request clashes with the current state; ``details`` carries e.g. conflicting paths."""

    code = "conflict"

    def __init__(self, message: str, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    """The body is not plain JSON (another media type, or compressed)."""

    code = "unsupported_media_type"


class RateLimited(DomainError):
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(DomainError):
    """Not now: a dependency is down, or the server is full; ``retry_after`` says when to try
    again when that is known."""

    code = "unavailable"

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamFailed(DomainError):
    """A service we depend on (the model API) refused or broke off; the message says why."""

    code = "upstream_failed"
