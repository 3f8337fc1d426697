"""Health check."""

from __future__ import annotations

from aiohttp import web

from codality_server import __version__
from codality_server.http.keys import SERVICES

from ..responses import json_ok
from ..route import Route
from ..views import ref


async def healthz(request: web.Request) -> web.Response:
    setup_required = await request.app[SERVICES].auth.setup_required()
    return json_ok({"status": "ok", "version": __version__, "setup_required": setup_required})


ROUTES = [
    Route(
        "GET",
        "/healthz",
        healthz,
        "Health check: version and setup status",
        "public",
        returns=ref("Health"),
    )
]
