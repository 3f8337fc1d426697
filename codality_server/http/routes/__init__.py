"""The whole URL table: each resource module contributes its ``ROUTES`` rows."""

from __future__ import annotations

from aiohttp import web

from ..middlewares import guarded
from ..openapi import build_openapi
from ..responses import json_ok
from ..route import Route
from . import (
    agent,
    auth,
    comments,
    discover,
    events,
    github_app,
    health,
    me,
    plans,
    projects,
    pull_requests,
    queues,
    reviews,
    settings,
    tickets,
    users,
    webhooks,
    worktrees,
)


async def openapi(request: web.Request) -> web.Response:
    return json_ok(build_openapi(all_routes()))


def all_routes() -> list[Route]:
    # aiohttp tries the routes under one prefix (``/api/projects``) in this order, so the ones
    # that boards and scripts poll most come first.
    return [
        *health.ROUTES,
        *tickets.ROUTES,
        *comments.ROUTES,
        *agent.ROUTES,
        *reviews.ROUTES,
        *worktrees.ROUTES,
        *plans.ROUTES,
        *pull_requests.ROUTES,
        *projects.ROUTES,
        *queues.ROUTES,
        *discover.ROUTES,
        *webhooks.ROUTES,
        *github_app.ROUTES,
        *auth.ROUTES,
        *events.ROUTES,
        *settings.ROUTES,
        *me.ROUTES,
        *users.ROUTES,
        Route("GET", "/api/openapi.json", openapi, "This document", "public", tag="meta"),
    ]


def setup_routes(app: web.Application) -> None:
    for route in all_routes():
        app.router.add_route(route.method, route.path, guarded(route))
