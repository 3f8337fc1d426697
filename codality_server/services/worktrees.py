"""Merge or discard a ticket's work (product.md §6).

Both begin by committing whatever the worktree still holds, so nothing the agent (or the user)
left uncommitted is lost: a merge takes it along, a discard keeps it under
``refs/codality/discarded/…``. The merge's diff is stored before the worktree and branch are
removed. Git work on one repository is serialised by ``Services.repo_lock``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codality_server.db import reviews as db_reviews
from codality_server.domain.errors import Conflict
from codality_server.domain.projects import Project
from codality_server.domain.reviews import MergeDiff
from codality_server.domain.tickets import Ticket, TicketStatus
from codality_server.domain.users import User
from codality_server.git.diff import commit_diff
from codality_server.git.merge import (
    Strategy,
    has_origin,
    keep_branch_tip,
    merge_branch,
    push_branch,
)
from codality_server.git.worktrees import commit_all, remove_worktree

from .base import Service, now_iso
from .reviews import work_branch
from .ticket_agent import AGENT_IDENTITY


class WorktreeService(Service):
    """Merging a ticket branch into the default branch, or setting it aside."""

    def _refuse_while_agent_runs(self, ticket: Ticket, action: str) -> None:
        if self.services.agent.is_busy(ticket.id):
            raise Conflict(
                f"cannot {action} ticket #{ticket.number} while its agent runs; stop it first",
                details={"reason": "agent_running"},
            )

    async def _commit_pending(self, ticket: Ticket, user: User | None, why: str) -> str | None:
        if not ticket.worktree_path or not Path(ticket.worktree_path).is_dir():
            return None
        message = f"{ticket.title} (#{ticket.number}): {why}"
        identity = user.git_identity if user else AGENT_IDENTITY
        return await asyncio.to_thread(commit_all, Path(ticket.worktree_path), message, identity)

    async def _remove(self, project: Project, ticket: Ticket, branch: str) -> Ticket:
        """Remove worktree and branch; with no recorded worktree, look where the agent puts one."""
        worktree = (
            Path(ticket.worktree_path)
            if ticket.worktree_path
            else self.config.worktrees_dir / project.slug / str(ticket.number)
        )
        await asyncio.to_thread(remove_worktree, Path(project.path), worktree, branch)
        return await self.services.tickets.set_worktree(ticket.id, None, None)

    async def merge(
        self,
        slug: str,
        number: int,
        user: User,
        strategy: Strategy | None = None,
        force: bool = False,
    ) -> dict[str, Any]:
        """Merge the ticket's branch into the default branch; the ticket ends ``done``.

        A branch that changes nothing is refused (409, ``no_changes``) unless ``force``: an
        agent that did no work should not close its ticket by accident.
        """
        project, ticket = await self.services.tickets.get(slug, number)
        if project.protected_main:
            raise Conflict(
                f"{project.default_branch} is protected: merge ticket #{number}'s pull request on"
                f" GitHub (`codality pr merge {number}`)",
                details={"reason": "protected"},
            )
        branch = work_branch(ticket, "merge")
        chosen: Strategy = strategy or (await self.services.settings.current()).merge_strategy
        async with self.services.repo_lock(project.path):
            self._refuse_while_agent_runs(ticket, "merge")
            await self._commit_pending(ticket, user, "uncommitted work, committed for the merge")
            message = (
                f"{ticket.title} (#{number})\n\nSquashed from {branch}.\n"
                if chosen == "squash"
                else f"Merge {branch}: {ticket.title} (#{number})\n"
            )
            repo = Path(project.path)
            outcome = await asyncio.to_thread(
                merge_branch,
                repo,
                branch,
                project.default_branch,
                chosen,
                message,
                user.git_identity,
                force,
            )
            diff = await asyncio.to_thread(commit_diff, repo, outcome.before, outcome.after)
            kept = MergeDiff(ticket.id, chosen, outcome.after, diff.patch, diff.stats(), now_iso())
            async with self.db.transaction() as conn:
                await db_reviews.save_merge_diff(conn, kept)
            await self._remove(project, ticket, branch)
            push = await self._push(repo, project.default_branch)
            done = await self.services.tickets.set_status(ticket.id, TicketStatus.DONE)
        return {
            "ticket": done.view(),
            "merge": {
                "strategy": chosen,
                "kind": outcome.kind,
                "before": outcome.before,
                "after": outcome.after,
                "checkouts_updated": list(outcome.checkouts_updated),
            },
            "stats": kept.stats_view(),
            "push": push,
        }

    async def _push(self, repo: Path, branch: str) -> dict[str, Any]:
        if not await asyncio.to_thread(has_origin, repo):
            return {"attempted": False, "ok": None, "error": None, "reason": "no origin remote"}
        if not (await self.services.settings.current()).push_after_merge:
            return {
                "attempted": False,
                "ok": None,
                "error": None,
                "reason": "push_after_merge is off",
            }
        error = await asyncio.to_thread(push_branch, repo, branch)
        return {"attempted": True, "ok": error is None, "error": error, "reason": None}

    async def discard(self, slug: str, number: int, user: User, cancel: bool) -> dict[str, Any]:
        """Keep the branch tip under ``refs/codality/discarded/``, remove worktree and branch."""
        project, ticket = await self.services.tickets.get(slug, number)
        branch = work_branch(ticket, "discard")
        self._refuse_while_agent_runs(ticket, "discard")
        closed = await self.services.pull_requests.close_for_discard(ticket)
        async with self.services.repo_lock(project.path):
            self._refuse_while_agent_runs(ticket, "discard")
            await self._commit_pending(ticket, user, "uncommitted work, kept on discard")
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            ref, sha = await asyncio.to_thread(
                keep_branch_tip, Path(project.path), branch, f"{number}-{stamp}"
            )
            await self._remove(project, ticket, branch)
            status = TicketStatus.CANCELLED if cancel else TicketStatus.BACKLOG
            updated = await self.services.tickets.set_status(ticket.id, status)
        return {
            "ticket": updated.view(),
            "kept_ref": ref,
            "kept_sha": sha,
            "pull_request_closed": closed.number if closed else None,
        }

    async def remove_merged(self, project: Project, ticket: Ticket) -> None:
        """After its PR merged on GitHub: the worktree and branch go. Uncommitted work (never
        part of the PR) is committed and kept under ``refs/codality/discarded/`` first."""
        async with self.services.repo_lock(project.path):
            branch = ticket.branch
            if branch and ticket.worktree_path and Path(ticket.worktree_path).is_dir():
                why = "uncommitted work, kept when its pull request merged"
                if await self._commit_pending(ticket, None, why):
                    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
                    await asyncio.to_thread(
                        keep_branch_tip, Path(project.path), branch, f"{ticket.number}-{stamp}"
                    )
            if branch:
                await self._remove(project, ticket, branch)
            else:
                await self.services.tickets.set_worktree(ticket.id, None, None)
