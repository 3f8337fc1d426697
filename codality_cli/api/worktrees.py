"""Merge a ticket's worktree into the default branch, or discard it."""

from __future__ import annotations

from typing import Any

from .resource import Resource
from .tickets import ticket_path


class WorktreesApi(Resource):
    async def merge(
        self, slug: str, number: int, strategy: str | None = None, force: bool = False
    ) -> dict[str, Any]:
        """``{ticket, merge, stats, push}``; a refused merge is a 409 listing ``conflicts``
        (``force`` merges a branch that changes nothing instead of refusing it)."""
        body: dict[str, Any] = {"strategy": strategy} if strategy else {}
        if force:
            body["force"] = True
        path = f"{ticket_path(slug, number)}/worktree/merge"
        result: dict[str, Any] = await self.t.post(path, body)
        return result

    async def discard(self, slug: str, number: int, cancel: bool = False) -> dict[str, Any]:
        """``{ticket, kept_ref, kept_sha}``: the work stays reachable from ``kept_ref``."""
        path = f"{ticket_path(slug, number)}/worktree/discard"
        result: dict[str, Any] = await self.t.post(path, {"cancel": cancel})
        return result
