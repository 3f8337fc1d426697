"""Comment endpoints: a ticket's comments, oldest first, and posting one as the signed-in user."""

from __future__ import annotations

from aiohttp import web

from codality_server.http.keys import SERVICES, USER

from ..responses import json_created, json_ok
from ..route import Route
from ..schema import Body, NonBlank
from ..validation import parse_body, path_int
from ..views import array_of, ref


class CommentCreate(Body):
    body: NonBlank


async def list_comments(request: web.Request) -> web.Response:
    comments = await request.app[SERVICES].comments.list(
        request.match_info["slug"], path_int(request, "number")
    )
    return json_ok(comments)


async def create_comment(request: web.Request) -> web.Response:
    payload = await parse_body(request, CommentCreate)
    comment = await request.app[SERVICES].comments.create(
        request.match_info["slug"], path_int(request, "number"), payload.body, request[USER]
    )
    return json_created(comment)


_COMMENTS = "/api/projects/{slug}/tickets/{number}/comments"

ROUTES = [
    Route(
        "GET",
        _COMMENTS,
        list_comments,
        "List ticket comments",
        tag="comments",
        returns=array_of("Comment"),
    ),
    Route(
        "POST",
        _COMMENTS,
        create_comment,
        "Create a comment",
        body=CommentCreate,
        tag="comments",
        status=201,
        returns=ref("Comment"),
    ),
]
