"""The route table's row type.

Every endpoint is declared once as a ``Route``: the router is built from these rows, the
authentication middleware reads ``access`` (``public`` routes need no session) and the body
limit from them, and ``/api/openapi.json`` is generated from them, so they can never disagree.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Access = Literal["public", "user", "admin"]

#: The default body limit; a route that takes more (webhooks: 25 MiB) says so on its row.
MAX_BODY_BYTES = 1024 * 1024


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
    # (``views.ref``/``views.array_of``). Routes without ``returns`` document the status alone.
    status: int = 200
    returns: dict[str, Any] | None = None
    #: Other statuses a success can answer (a message sent with ``?wait=true`` answers 200).
    other_statuses: tuple[int, ...] = ()
    #: The body of an other status when it is not ``returns``.
    other_returns: Mapping[int, dict[str, Any]] = field(default_factory=dict)
    #: A success that is not JSON: its media types (an event stream, a file's bytes, a page),
    #: documented instead of a schema.
    media_types: tuple[str, ...] = ()
    #: Larger bodies are refused with 413, whether the handler reads them or not. The guard reads
    #: every body whole before the handler runs; ``await validation.read_body(request)`` gives the
    #: exact bytes.
    body_limit: int = MAX_BODY_BYTES
    #: The handler reads the body itself, with ``read_body`` (a webhook checks its signature
    #: header before reading a byte and computes the signature as the body arrives); the guard
    #: neither reads it nor checks its content type.
    reads_own_body: bool = False
