"""A ticket's GitHub pull request."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from .resource import Resource, rows, segment
from .tickets import ticket_path

if TYPE_CHECKING:
    from .models import PullRequest, PullRequestComment, PullRequestMerged, PullRequestStatus


def pr_path(slug: str, number: int) -> str:
    return f"{ticket_path(slug, number)}/pull-request"


class PullRequestsApi(Resource):
    async def list(self, slug: str) -> list[PullRequest]:
        return rows(await self.t.get(f"/api/projects/{segment(slug)}/pull-requests"))

    async def create(
        self, slug: str, number: int, title: str | None, body: str | None, draft: bool
    ) -> PullRequest:
        payload: dict[str, Any] = {"draft": draft}
        if title:
            payload["title"] = title
        if body is not None:
            payload["body"] = body
        result: PullRequest = await self.t.post(pr_path(slug, number), payload)
        return result

    async def get(self, slug: str, number: int) -> PullRequest:
        result: PullRequest = await self.t.get(pr_path(slug, number))
        return result

    async def status(self, slug: str, number: int) -> PullRequestStatus:
        """``{pull_request, checks, counts, review_state, mergeable}`` live from GitHub."""
        result: PullRequestStatus = await self.t.get(f"{pr_path(slug, number)}/status")
        return result

    async def comments(self, slug: str, number: int) -> builtins.list[PullRequestComment]:
        return rows(await self.t.get(f"{pr_path(slug, number)}/comments"))

    async def update(self, slug: str, number: int) -> PullRequest:
        result: PullRequest = await self.t.post(f"{pr_path(slug, number)}/update")
        return result

    async def merge(self, slug: str, number: int, method: str | None) -> PullRequestMerged:
        """A refusal by GitHub is a 409 whose message is GitHub's reason."""
        body = {"method": method} if method else {}
        result: PullRequestMerged = await self.t.post(f"{pr_path(slug, number)}/merge", body)
        return result
