"""A ticket's diff, its reviews and inline comments, and the diff captured at merge."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from .resource import Resource, rows
from .tickets import ticket_path

if TYPE_CHECKING:
    from .models import (
        Diff,
        DiffStats,
        MergeDiff,
        MergeDiffStats,
        Review,
        ReviewCommentView,
        ReviewSubmitted,
    )


class ReviewsApi(Resource):
    async def diff(self, slug: str, number: int, committed: bool = False) -> Diff:
        """``{base, head, uncommitted, diff}``; worktree changes included unless ``committed``."""
        params = {"committed": "1"} if committed else None
        result: Diff = await self.t.get(f"{ticket_path(slug, number)}/diff", params)
        return result

    async def diff_stats(self, slug: str, number: int, committed: bool = False) -> DiffStats:
        params = {"committed": "1"} if committed else None
        path = f"{ticket_path(slug, number)}/diff/stats"
        result: DiffStats = await self.t.get(path, params)
        return result

    async def list(self, slug: str, number: int) -> list[Review]:
        return rows(await self.t.get(f"{ticket_path(slug, number)}/reviews"))

    async def create(
        self,
        slug: str,
        number: int,
        state: str,
        body: str,
        comments: builtins.list[dict[str, Any]],
    ) -> ReviewSubmitted:
        """Submit a review; ``comments`` are ``{path, line, body}`` on lines of the diff."""
        payload = {"state": state, "body": body, "comments": comments}
        result: ReviewSubmitted = await self.t.post(f"{ticket_path(slug, number)}/reviews", payload)
        return result

    async def comments(self, slug: str, number: int) -> builtins.list[ReviewCommentView]:
        return rows(await self.t.get(f"{ticket_path(slug, number)}/reviews/comments"))

    async def merge_diff(self, slug: str, number: int) -> MergeDiff:
        result: MergeDiff = await self.t.get(f"{ticket_path(slug, number)}/merge-diff")
        return result

    async def merge_diff_stats(self, slug: str, number: int) -> MergeDiffStats:
        result: MergeDiffStats = await self.t.get(f"{ticket_path(slug, number)}/merge-diff/stats")
        return result
