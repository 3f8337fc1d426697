"""A ticket's GitHub pull request: create, read, live status, comments, re-push, merge."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field

from codality_server.http.keys import SERVICES, USER

from ..responses import json_created, json_ok
from ..route import Route
from ..schema import Body
from ..validation import parse_body, path_int
from ..views import array_of, ref


class PrCreate(Body):
    title: str | None = Field(default=None, min_length=1, max_length=256)
    body: str | None = Field(default=None, max_length=65_536)
    draft: bool = False


class PrMerge(Body):
    method: Literal["merge", "squash", "rebase"] | None = None


def _where(request: web.Request) -> tuple[str, int]:
    return request.match_info["slug"], path_int(request, "number")


async def list_prs(request: web.Request) -> web.Response:
    return json_ok(await request.app[SERVICES].pull_requests.list(request.match_info["slug"]))


async def create(request: web.Request) -> web.Response:
    body = await parse_body(request, PrCreate)
    pr = await request.app[SERVICES].pull_requests.create(
        *_where(request), request[USER], body.title, body.body, body.draft
    )
    return json_created(pr)


async def get(request: web.Request) -> web.Response:
    return json_ok(await request.app[SERVICES].pull_requests.get(*_where(request)))


async def status(request: web.Request) -> web.Response:
    return json_ok(await request.app[SERVICES].pull_requests.status(*_where(request)))


async def comments(request: web.Request) -> web.Response:
    return json_ok(await request.app[SERVICES].pull_requests.comments(*_where(request)))


async def update(request: web.Request) -> web.Response:
    await parse_body(request, Body)
    pr = await request.app[SERVICES].pull_requests.update(*_where(request), request[USER])
    return json_ok(pr)


async def merge(request: web.Request) -> web.Response:
    body = await parse_body(request, PrMerge)
    result = await request.app[SERVICES].pull_requests.merge(*_where(request), body.method)
    return json_ok(result)


_PR = "/api/projects/{slug}/tickets/{number}/pull-request"
ROUTES = [
    Route(
        "GET",
        "/api/projects/{slug}/pull-requests",
        list_prs,
        "List all PRs for project",
        tag="pull-requests",
        returns=array_of("PullRequest"),
    ),
    Route(
        "POST",
        _PR,
        create,
        "Create PR",
        body=PrCreate,
        tag="pull-requests",
        status=201,
        returns=ref("PullRequest"),
    ),
    Route("GET", _PR, get, "Get PR for ticket", tag="pull-requests", returns=ref("PullRequest")),
    Route(
        "GET",
        f"{_PR}/status",
        status,
        "PR + live CI checks + review state",
        tag="pull-requests",
        returns=ref("PullRequestStatus"),
    ),
    Route(
        "GET",
        f"{_PR}/comments",
        comments,
        "Sync PR comments from GitHub",
        tag="pull-requests",
        returns=array_of("PullRequestComment"),
    ),
    Route(
        "POST",
        f"{_PR}/update",
        update,
        "Re-push branch and update PR SHA",
        tag="pull-requests",
        returns=ref("PullRequest"),
    ),
    Route(
        "POST",
        f"{_PR}/merge",
        merge,
        "Merge PR on GitHub",
        body=PrMerge,
        tag="pull-requests",
        returns=ref("PullRequestMerged"),
    ),
]
