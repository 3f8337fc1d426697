"""Base of the per-resource clients: each holds the shared transport and quotes path parts."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .transport import Transport


def segment(value: str | int) -> str:
    """One URL path segment, escaped (``/`` included) so a name can never change the route."""
    return quote(str(value), safe="")


def rows(body: Any) -> list[Any]:
    """A list endpoint's items (the server answers bare JSON arrays)."""
    return body if isinstance(body, list) else []


class Resource:
    """One REST resource; methods map one-to-one to endpoints and never format or prompt."""

    def __init__(self, transport: Transport) -> None:
        self.t = transport
