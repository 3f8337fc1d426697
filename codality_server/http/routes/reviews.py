"""Review endpoints: the ticket's diff and stats, reviews with inline comments, merge diffs."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import ConfigDict, Field

from codality_server.domain.reviews import ReviewCommentDraft
from codality_server.http.keys import SERVICES, USER
from codality_server.services.reviews import diff_view, stats_view

from ..responses import json_created, json_ok
from ..route import Route
from ..schema import Body, NonBlank, Query, RowId
from ..validation import parse_body, parse_query, path_int
from ..views import array_of, ref


class DiffQuery(Query):
    committed: bool = False


class ReviewCommentIn(Body):
    path: str = Field(min_length=1, max_length=4096)
    line: RowId
    body: NonBlank


class ReviewCreate(Body):
    # domain/reviews.py: only an approval may come with neither a body nor inline comments.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"state": {"not": {"const": "approved"}}}},
            "then": {
                "anyOf": [
                    {"required": ["body"], "properties": {"body": {"pattern": r"\S"}}},
                    {"required": ["comments"], "properties": {"comments": {"minItems": 1}}},
                ]
            },
        }
    )

    state: Literal["approved", "changes_requested", "commented"]
    body: str = ""
    comments: list[ReviewCommentIn] = Field(default_factory=list, max_length=500)


def _ticket(request: web.Request) -> tuple[str, int]:
    return request.match_info["slug"], path_int(request, "number")


async def get_diff(request: web.Request) -> web.Response:
    query = parse_query(request, DiffQuery)
    diff = await request.app[SERVICES].reviews.diff(*_ticket(request), committed=query.committed)
    return json_ok(diff_view(diff, uncommitted=not query.committed))


async def get_diff_stats(request: web.Request) -> web.Response:
    query = parse_query(request, DiffQuery)
    diff = await request.app[SERVICES].reviews.diff(*_ticket(request), committed=query.committed)
    return json_ok(stats_view(diff, uncommitted=not query.committed))


async def list_reviews(request: web.Request) -> web.Response:
    reviews = await request.app[SERVICES].reviews.list(*_ticket(request))
    return json_ok([r.view() for r in reviews])


async def create_review(request: web.Request) -> web.Response:
    payload = await parse_body(request, ReviewCreate)
    drafts = [ReviewCommentDraft(c.path, c.line, c.body) for c in payload.comments]
    review = await request.app[SERVICES].reviews.create(
        *_ticket(request), request[USER], payload.state, payload.body, drafts
    )
    return json_created(review)


async def list_review_comments(request: web.Request) -> web.Response:
    comments = await request.app[SERVICES].reviews.comments(*_ticket(request))
    return json_ok([c.view() for c in comments])


async def get_merge_diff(request: web.Request) -> web.Response:
    return json_ok((await request.app[SERVICES].reviews.merge_diff(*_ticket(request))).view())


async def get_merge_diff_stats(request: web.Request) -> web.Response:
    merged = await request.app[SERVICES].reviews.merge_diff(*_ticket(request))
    return json_ok(merged.stats_view())


_TICKET = "/api/projects/{slug}/tickets/{number}"

ROUTES = [
    Route(
        "GET",
        f"{_TICKET}/diff",
        get_diff,
        "Get unified diff for ticket branch",
        query=DiffQuery,
        tag="reviews",
        returns=ref("Diff"),
    ),
    Route(
        "GET",
        f"{_TICKET}/diff/stats",
        get_diff_stats,
        "Get diff statistics",
        query=DiffQuery,
        tag="reviews",
        returns=ref("DiffStats"),
    ),
    Route(
        "GET",
        f"{_TICKET}/reviews",
        list_reviews,
        "List reviews",
        tag="reviews",
        returns=array_of("Review"),
    ),
    Route(
        "POST",
        f"{_TICKET}/reviews",
        create_review,
        "Submit a review (approved/changes_requested/commented)",
        body=ReviewCreate,
        tag="reviews",
        status=201,
        returns=ref("ReviewSubmitted"),
    ),
    Route(
        "GET",
        f"{_TICKET}/reviews/comments",
        list_review_comments,
        "List review comments",
        tag="reviews",
        returns=array_of("ReviewCommentView"),
    ),
    Route(
        "GET",
        f"{_TICKET}/merge-diff",
        get_merge_diff,
        "Get captured merge diff (post-merge historical view)",
        tag="reviews",
        returns=ref("MergeDiff"),
    ),
    Route(
        "GET",
        f"{_TICKET}/merge-diff/stats",
        get_merge_diff_stats,
        "Get merge diff statistics",
        tag="reviews",
        returns=ref("MergeDiffStats"),
    ),
]
