"""Worktree endpoints: merge the ticket's work into the default branch, or discard it."""

from __future__ import annotations

from typing import Literal

from aiohttp import web

from codality_server.http.keys import SERVICES, USER

from ..responses import json_ok
from ..route import Route
from ..schema import Body
from ..validation import parse_body, path_int


class MergeRequest(Body):
    strategy: Literal["merge", "squash"] | None = None
    force: bool = False  # merge a branch that changes nothing (refused with 409 otherwise)


class DiscardRequest(Body):
    cancel: bool = False


async def merge(request: web.Request) -> web.Response:
    payload = await parse_body(request, MergeRequest)
    result = await request.app[SERVICES].worktrees.merge(
        request.match_info["slug"],
        path_int(request, "number"),
        request[USER],
        payload.strategy,
        payload.force,
    )
    return json_ok(result)


async def discard(request: web.Request) -> web.Response:
    payload = await parse_body(request, DiscardRequest)
    result = await request.app[SERVICES].worktrees.discard(
        request.match_info["slug"], path_int(request, "number"), request[USER], payload.cancel
    )
    return json_ok(result)


_WORKTREE = "/api/projects/{slug}/tickets/{number}/worktree"

ROUTES = [
    Route(
        "POST",
        f"{_WORKTREE}/merge",
        merge,
        "Merge worktree into default branch",
        body=MergeRequest,
        tag="worktrees",
    ),
    Route(
        "POST",
        f"{_WORKTREE}/discard",
        discard,
        "Discard worktree and branch",
        body=DiscardRequest,
        tag="worktrees",
    ),
]
