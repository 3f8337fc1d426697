"""Typed failures of the API client, decoded once from the server's error envelope."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """The server answered ``{"error": {"code", "message", …}}`` with a 4xx/5xx status."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


class AuthRequired(ApiError):
    """401: no session, or it expired or was ended."""


class ServerUnavailable(Exception):
    """Nothing answered at the server's address (or the connection broke)."""

    def __init__(self, url: str, reason: str, nothing_sent: bool = False) -> None:
        super().__init__(f"server unreachable: cannot reach the server at {url} ({reason})")
        self.url = url
        self.reason = reason
        # The connection was refused before any request of this client went out: the whole
        # interaction may be tried again elsewhere without doing anything twice.
        self.nothing_sent = nothing_sent


class NotCodality(ServerUnavailable):
    """Something answered at the address, but not a Codality server (no ``Codality-Version``)."""

    def __init__(self, url: str, answer: str) -> None:
        super().__init__(url, answer)
        self.args = (f"no Codality server at {url}: it answered {answer}",)
