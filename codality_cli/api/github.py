"""The GitHub App connection, repositories, links and the webhook log."""

from __future__ import annotations

from typing import Any

from .resource import Resource, rows, segment

Rows = list[dict[str, Any]]


class GitHubApi(Resource):
    async def status(self) -> dict[str, Any]:
        """The status panel: ids, ✓/✗ per secret, the installation; never a secret's value."""
        result: dict[str, Any] = await self.t.get("/api/github/app/status")
        return result

    async def manifest(self, organization: str | None, name: str | None) -> dict[str, Any]:
        """A state and the ``url`` of the page that sends the manifest to GitHub."""
        body = {"organization": organization, "name": name}
        result: dict[str, Any] = await self.t.post(
            "/api/github/app/manifest", {k: v for k, v in body.items() if v is not None}
        )
        return result

    async def repos(self) -> Rows:
        return rows(await self.t.get("/api/github/app/repos"))

    async def create_repo(
        self, name: str, private: bool, description: str, organization: str | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "private": private, "description": description}
        if organization:
            body["organization"] = organization
        result: dict[str, Any] = await self.t.post("/api/github/app/repos", body)
        return result

    async def detect_remote(
        self, project: str | None = None, path: str | None = None, url: str | None = None
    ) -> dict[str, Any]:
        body = {"project": project, "path": path, "url": url}
        result: dict[str, Any] = await self.t.post(
            "/api/github/detect-remote", {k: v for k, v in body.items() if v is not None}
        )
        return result

    async def link(self, slug: str, owner: str | None, repo: str | None) -> dict[str, Any]:
        body = {"owner": owner, "repo": repo} if owner and repo else {}
        result: dict[str, Any] = await self.t.post(
            f"/api/projects/{segment(slug)}/github/link", body
        )
        return result

    async def unlink(self, slug: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.t.post(f"/api/projects/{segment(slug)}/github/unlink")
        return result

    async def events(self, slug: str | None, limit: int) -> Rows:
        path = (
            f"/api/projects/{segment(slug)}/github/webhooks/events"
            if slug
            else "/api/github/webhooks/events"
        )
        return rows(await self.t.get(path, {"limit": limit}))
