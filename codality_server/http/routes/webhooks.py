"""The GitHub webhook receiver: the raw body goes to the service, which checks its signature."""

from __future__ import annotations

from aiohttp import web

from codality_server.domain.errors import PayloadTooLarge
from codality_server.domain.github import MAX_WEBHOOK_BYTES
from codality_server.http.keys import SERVICES

from ..responses import json_ok
from ..route import Route


async def read_raw(request: web.Request, limit: int) -> bytes:
    """The whole body, refused past ``limit`` bytes (a read may return a part, so loop)."""
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(min(1024 * 1024, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    return b"".join(chunks)


async def receive(request: web.Request) -> web.Response:
    body = await read_raw(request, MAX_WEBHOOK_BYTES)
    return json_ok(await request.app[SERVICES].webhooks.receive(request.headers, body))


ROUTES = [
    Route(
        "POST", "/api/github/webhooks", receive, "GitHub webhook receiver.", "public", tag="github"
    )
]
