"""The route table's row type.

Every endpoint is declared once as a ``Route``: the router is built from these rows, the
authentication middleware reads ``access`` from them, and ``/api/openapi.json`` is generated from
them, so the three can never disagree.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Access = Literal["public", "user", "admin"]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    access: Access = "user"
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    tag: str = ""
    # The body changes only the fields it names (nested objects merge): none is required.
    partial: bool = False
    # What a success answers: its status and, unless it has no body, the JSON Schema of the body
    # (``views.ref``/``views.array_of``). Routes without ``returns`` are documented as "2XX".
    status: int = 200
    returns: dict[str, Any] | None = None
