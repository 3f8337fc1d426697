"""Worktree endpoints: merge the ticket's work into the default branch (and push it), push a
merged ticket again, or discard the work."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field

from codality_server.http.keys import SERVICES, USER

from ..responses import json_ok
from ..route import Route
from ..schema import Body, Query
from ..validation import parse_body, parse_query, path_int
from ..views import ref


class MergeRequest(Body):
    strategy: Literal["merge", "squash"] | None = None
    force: bool = Field(
        False, description="merge a branch that changes nothing (refused with 409 otherwise)"
    )
    push: bool = Field(
        True,
        description="push the default branch to origin after the merge (when push_after_merge"
        " is on and there is an origin); false keeps this merge local",
    )


class MergePlanQuery(Query):
    push: bool = Field(True, description="as the merge would be asked (false: --no-push)")


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
        payload.push,
    )
    return json_ok(result)


async def merge_plan(request: web.Request) -> web.Response:
    query = parse_query(request, MergePlanQuery)
    result = await request.app[SERVICES].worktrees.merge_plan(
        request.match_info["slug"], path_int(request, "number"), query.push
    )
    return json_ok(result)


async def push(request: web.Request) -> web.Response:
    result = await request.app[SERVICES].worktrees.push_again(
        request.match_info["slug"], path_int(request, "number")
    )
    return json_ok(result)


async def discard(request: web.Request) -> web.Response:
    payload = await parse_body(request, DiscardRequest)
    result = await request.app[SERVICES].worktrees.discard(
        request.match_info["slug"], path_int(request, "number"), request[USER], payload.cancel
    )
    return json_ok(result)


_TICKET = "/api/projects/{slug}/tickets/{number}"
_WORKTREE = f"{_TICKET}/worktree"

ROUTES = [
    Route(
        "GET",
        f"{_WORKTREE}/merge",
        merge_plan,
        "What a merge would do: the tickets it merges, in order, and whether it pushes",
        query=MergePlanQuery,
        tag="worktrees",
        returns=ref("MergePlan"),
    ),
    Route(
        "POST",
        f"{_WORKTREE}/merge",
        merge,
        "Merge worktree into default branch, then push it to origin",
        body=MergeRequest,
        tag="worktrees",
        returns=ref("Merged"),
    ),
    Route(
        "POST",
        f"{_TICKET}/push",
        push,
        "Push a merged ticket's default branch to origin again (after a failed or skipped push)",
        tag="worktrees",
        returns=ref("Pushed"),
    ),
    Route(
        "POST",
        f"{_WORKTREE}/discard",
        discard,
        "Discard worktree and branch",
        body=DiscardRequest,
        tag="worktrees",
        returns=ref("Discarded"),
    ),
]
