"""The GitHub webhook receiver: the signature header is checked before the body is read, the
signature computed while the body arrives, and the service decides the rest."""

from __future__ import annotations

from aiohttp import web

from codality_server.domain.github import MAX_WEBHOOK_BYTES
from codality_server.http.keys import SERVICES

from ..responses import json_ok
from ..route import Route
from ..validation import read_body
from ..views import ref


async def receive(request: web.Request) -> web.Response:
    webhooks = request.app[SERVICES].webhooks
    signature = await webhooks.signature(request.headers.getall("X-Hub-Signature-256", []))
    body = await read_body(request, signature.update)  # the exact bytes, up to 25 MiB
    answer = await webhooks.receive(request.headers, request.content_type, body, signature)
    return json_ok(answer)


ROUTES = [
    Route(
        "POST",
        "/api/github/webhooks",
        receive,
        "GitHub webhook receiver.",
        "public",
        tag="github",
        body_limit=MAX_WEBHOOK_BYTES,
        reads_own_body=True,
        returns=ref("WebhookAnswer"),
    )
]
