"""Merge a ticket's worktree into the default branch (and push it), push it again, or discard it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .resource import Resource
from .tickets import ticket_path

if TYPE_CHECKING:
    from .models import Discarded, Merged, MergePlan, Pushed


class WorktreesApi(Resource):
    async def merge_plan(self, slug: str, number: int, push: bool = True) -> MergePlan:
        """``{target, tickets, push: {will_push, remote, reason}}``: what ``merge`` would do."""
        params = None if push else {"push": "false"}
        path = f"{ticket_path(slug, number)}/worktree/merge"
        result: MergePlan = await self.t.get(path, params)
        return result

    async def merge(
        self,
        slug: str,
        number: int,
        strategy: str | None = None,
        force: bool = False,
        push: bool = True,
    ) -> Merged:
        """``{ticket, merge, stats, push}``; a refused merge is a 409 listing ``conflicts``
        (``force`` merges a branch that changes nothing instead of refusing it; ``push`` false
        keeps the merge local)."""
        body: dict[str, Any] = {"strategy": strategy} if strategy else {}
        if force:
            body["force"] = True
        if not push:
            body["push"] = False
        path = f"{ticket_path(slug, number)}/worktree/merge"
        result: Merged = await self.t.post(path, body)
        return result

    async def push(self, slug: str, number: int) -> Pushed:
        """``{ticket, push}``: the merged ticket's default branch pushed to origin again."""
        result: Pushed = await self.t.post(f"{ticket_path(slug, number)}/push")
        return result

    async def discard(self, slug: str, number: int, cancel: bool = False) -> Discarded:
        """``{ticket, kept_ref, kept_sha}``: the work stays reachable from ``kept_ref``."""
        path = f"{ticket_path(slug, number)}/worktree/discard"
        result: Discarded = await self.t.post(path, {"cancel": cancel})
        return result
