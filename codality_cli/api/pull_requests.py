"""A ticket's GitHub pull request."""

from __future__ import annotations

from typing import Any

from .resource import Resource, rows, segment
from .tickets import ticket_path

Rows = list[dict[str, Any]]


def pr_path(slug: str, number: int) -> str:
    return f"{ticket_path(slug, number)}/pull-request"


class PullRequestsApi(Resource):
    async def list(self, slug: str) -> Rows:
        return rows(await self.t.get(f"/api/projects/{segment(slug)}/pull-requests"))

    async def create(
        self, slug: str, number: int, title: str | None, body: str | None, draft: bool
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"draft": draft}
        if title:
            payload["title"] = title
        if body is not None:
            payload["body"] = body
        result: dict[str, Any] = await self.t.post(pr_path(slug, number), payload)
        return result

    async def get(self, slug: str, number: int) -> dict[str, Any]:
        result: dict[str, Any] = await self.t.get(pr_path(slug, number))
        return result

    async def status(self, slug: str, number: int) -> dict[str, Any]:
        """``{pull_request, checks, counts, review_state, mergeable}`` live from GitHub."""
        result: dict[str, Any] = await self.t.get(f"{pr_path(slug, number)}/status")
        return result

    async def comments(self, slug: str, number: int) -> Rows:
        return rows(await self.t.get(f"{pr_path(slug, number)}/comments"))

    async def update(self, slug: str, number: int) -> dict[str, Any]:
        result: dict[str, Any] = await self.t.post(f"{pr_path(slug, number)}/update")
        return result

    async def merge(self, slug: str, number: int, method: str | None) -> dict[str, Any]:
        """A refusal by GitHub is a 409 whose message is GitHub's reason."""
        body = {"method": method} if method else {}
        result: dict[str, Any] = await self.t.post(f"{pr_path(slug, number)}/merge", body)
        return result
