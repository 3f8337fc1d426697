"""A ticket's diff, its reviews and inline comments, and the diff captured at merge."""

from __future__ import annotations

import builtins
from typing import Any

from .resource import Resource, rows
from .tickets import ticket_path


class ReviewsApi(Resource):
    async def diff(self, slug: str, number: int, committed: bool = False) -> dict[str, Any]:
        """``{base, head, uncommitted, diff}``; worktree changes included unless ``committed``."""
        params = {"committed": "1"} if committed else None
        result: dict[str, Any] = await self.t.get(f"{ticket_path(slug, number)}/diff", params)
        return result

    async def diff_stats(self, slug: str, number: int, committed: bool = False) -> dict[str, Any]:
        params = {"committed": "1"} if committed else None
        path = f"{ticket_path(slug, number)}/diff/stats"
        result: dict[str, Any] = await self.t.get(path, params)
        return result

    async def list(self, slug: str, number: int) -> list[dict[str, Any]]:
        return rows(await self.t.get(f"{ticket_path(slug, number)}/reviews"))

    async def create(
        self,
        slug: str,
        number: int,
        state: str,
        body: str,
        comments: builtins.list[dict[str, Any]],
    ) -> dict[str, Any]:
        """Submit a review; ``comments`` are ``{path, line, body}`` on lines of the diff."""
        payload = {"state": state, "body": body, "comments": comments}
        result: dict[str, Any] = await self.t.post(f"{ticket_path(slug, number)}/reviews", payload)
        return result

    async def comments(self, slug: str, number: int) -> builtins.list[dict[str, Any]]:
        return rows(await self.t.get(f"{ticket_path(slug, number)}/reviews/comments"))

    async def merge_diff(self, slug: str, number: int) -> dict[str, Any]:
        result: dict[str, Any] = await self.t.get(f"{ticket_path(slug, number)}/merge-diff")
        return result

    async def merge_diff_stats(self, slug: str, number: int) -> dict[str, Any]:
        result: dict[str, Any] = await self.t.get(f"{ticket_path(slug, number)}/merge-diff/stats")
        return result
