"""The GitHub webhook receiver: the raw body goes to the service, which checks its signature."""

from __future__ import annotations

from aiohttp import web

from codality_server.domain.github import MAX_WEBHOOK_BYTES
from codality_server.http.keys import SERVICES

from ..responses import json_ok
from ..route import Route
from ..validation import read_body


async def receive(request: web.Request) -> web.Response:
    body = await read_body(request)  # the exact bytes, up to the row's 25 MiB
    return json_ok(await request.app[SERVICES].webhooks.receive(request.headers, body))


ROUTES = [
    Route(
        "POST",
        "/api/github/webhooks",
        receive,
        "GitHub webhook receiver.",
        "public",
        tag="github",
        body_limit=MAX_WEBHOOK_BYTES,
    )
]
