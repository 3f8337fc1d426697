"""The whole URL table: each resource module contributes its ``ROUTES`` rows."""

from __future__ import annotations

import re

from aiohttp import web

from codality_server.settings import DEFAULT_BODY_BUDGET_BYTES

from ..body_budget import BodyBudget
from ..keys import BODY_BUDGET, ROUTE_ROWS
from ..middlewares import guarded
from ..openapi import build_openapi
from ..responses import json_ok
from ..route import Route
from ..validation import is_path_int
from ..views import ref
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
        Route(
            "GET",
            "/api/openapi.json",
            openapi,
            "This document",
            "public",
            tag="meta",
            returns=ref("OpenAPI"),
        ),
    ]


def router_paths(paths: list[str]) -> dict[str, str]:
    """Each path as registered with aiohttp: an integer placeholder does not match a word that
    a sibling route has at that place, so ``…/tickets/search`` is never also
    ``…/tickets/{number}`` (a PUT there is a 405, not "number must be an integer"), while
    ``…/tickets/abc`` still reaches the route and its 400."""
    words: dict[tuple[str, ...], set[str]] = {}
    for path in paths:
        parts = path.split("/")
        for index, part in enumerate(parts):
            if not part.startswith("{"):
                words.setdefault(tuple(parts[:index]), set()).add(part)
    registered = {}
    for path in paths:
        parts = path.split("/")
        for index, part in enumerate(parts):
            name = part[1:-1]
            siblings = words.get(tuple(parts[:index]))
            if part.startswith("{") and ":" not in part and is_path_int(name) and siblings:
                taken = "|".join(re.escape(word) for word in sorted(siblings))
                parts[index] = f"{{{name}:(?!(?:{taken})(?:/|$))[^/]+}}"
        registered[path] = "/".join(parts)
    return registered


def setup_routes(
    app: web.Application,
    routes: list[Route] | None = None,
    body_budget: int = DEFAULT_BODY_BUDGET_BYTES,
) -> None:
    """Add every route (or ``routes``), with the rows and the body budget the request guard
    applies."""
    routes = all_routes() if routes is None else routes
    paths = router_paths([route.path for route in routes])
    rows: dict[web.AbstractRoute, Route] = {}
    for route in routes:
        rows[app.router.add_route(route.method, paths[route.path], guarded(route))] = route
    app[ROUTE_ROWS] = rows
    app[BODY_BUDGET] = BodyBudget(body_budget)
