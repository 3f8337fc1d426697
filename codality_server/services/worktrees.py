"""Merge or discard a ticket's work (product.md §6).

Both begin by committing whatever the worktree still holds, so nothing the agent (or the user)
left uncommitted is lost: a merge takes it along, a discard keeps it under
``refs/codality/discarded/…``. The merge's diff is stored, and the ticket is ``done``, before
the worktree and branch are removed. Git work on one repository is serialised by
``Services.repo_lock``; the push to origin after a merge is not git work on the repository and
never holds it. Pull requests build on this service (a push commits the worktree, a merge on
GitHub removes it), so closing a discarded ticket's pull request is a hook they set
(``closes_pull_requests_with``) where the services are composed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codality_server.db import reviews as db_reviews
from codality_server.domain.errors import Conflict
from codality_server.domain.github import PullRequest
from codality_server.domain.projects import Project
from codality_server.domain.pushes import REMOTE, PushReport, PushState
from codality_server.domain.reviews import MergeDiff
from codality_server.domain.sessions import Owner
from codality_server.domain.settings import Settings
from codality_server.domain.ticket_moves import Action
from codality_server.domain.tickets import Ticket, work_branch
from codality_server.domain.users import User
from codality_server.domain.work_names import AGENT_IDENTITY, work_subject
from codality_server.git.diff import commit_diff
from codality_server.git.merge import MergeOutcome, Strategy, keep_branch_tip, merge_branch
from codality_server.git.network import RemoteError, with_deadline
from codality_server.git.remote import has_origin, push_to_origin, reachable_from
from codality_server.git.watch import ChangeWatch
from codality_server.git.worktrees import (
    CommitResult,
    commit_all,
    remove_worktree,
    watch_worktree,
)

from .base import Core, RepoLocks, Service, now_iso

if TYPE_CHECKING:
    from .comments import CommentService
    from .settings import SettingsService
    from .stacks import StackService
    from .supervisor import Supervisor
    from .tickets import TicketService

# Closes the ticket's open pull request before its work is discarded; returns it, if it did.
PullRequestCloser = Callable[[Ticket], Awaitable[PullRequest | None]]


class WorktreeService(Service):
    """Merging a ticket branch into the default branch, or setting it aside."""

    def __init__(
        self,
        core: Core,
        *,
        settings: SettingsService,
        tickets: TicketService,
        comments: CommentService,
        stacks: StackService,
        supervisor: Supervisor,
        repo_lock: RepoLocks,
    ) -> None:
        super().__init__(core)
        self.settings = settings
        self.tickets = tickets
        self.comments = comments
        self.stacks = stacks
        self.supervisor = supervisor
        self.repo_lock = repo_lock
        self._close_pull_request: PullRequestCloser | None = None

    def closes_pull_requests_with(self, close: PullRequestCloser) -> None:
        """Have a discard close the ticket's open pull request first (docs §8.2)."""
        self._close_pull_request = close

    def _refuse_while_agent_runs(self, ticket: Ticket, action: str) -> None:
        # The supervisor, not the ticket agent, answers: the agent commits through this service.
        if self.supervisor.is_busy(Owner.ticket(ticket.id)):
            raise Conflict(
                f"cannot {action} ticket #{ticket.number} while its agent runs; stop it first",
                details={"reason": "agent_running"},
            )

    async def commit_work(
        self,
        project: Project,
        ticket: Ticket,
        message: str,
        identity: tuple[str, str],
        watch: ChangeWatch | None = None,
    ) -> CommitResult:
        """Commit what the ticket's worktree holds on its branch (the caller holds the
        repository's lock); files above the ``max_file_mb`` setting are left out, unread. With
        the run's ``watch``, only the paths it saw change are looked at."""
        if not (ticket.worktree_path and ticket.branch and Path(ticket.worktree_path).is_dir()):
            return CommitResult(None)
        limit = (await self.settings.current()).max_file_mb * 1024 * 1024
        return await asyncio.to_thread(
            commit_all,
            Path(project.path),
            Path(ticket.worktree_path),
            ticket.branch,
            message,
            identity,
            limit,
            watch,
        )

    async def watch(self, project: Project, ticket: Ticket) -> ChangeWatch | None:
        """Start watching the ticket's worktree for what a run changes (``git.watch``); None
        where the commit will compare every file instead."""
        if not ticket.worktree_path:
            return None
        worktree = Path(ticket.worktree_path)
        return await asyncio.to_thread(watch_worktree, Path(project.path), worktree)

    async def _commit_pending(
        self, project: Project, ticket: Ticket, user: User | None, why: str
    ) -> str | None:
        message = f"{work_subject(ticket.title, ticket.number)}: {why}"
        identity = user.git_identity if user else AGENT_IDENTITY
        return (await self.commit_work(project, ticket, message, identity)).sha

    async def _remove(self, project: Project, ticket: Ticket, branch: str) -> Ticket:
        """Remove worktree and branch; with no recorded worktree, look where the agent puts one."""
        worktree = (
            Path(ticket.worktree_path)
            if ticket.worktree_path
            else self.config.worktrees_dir / project.slug / str(ticket.number)
        )
        await asyncio.to_thread(remove_worktree, Path(project.path), worktree, branch)
        return await self.tickets.set_worktree(ticket.id, None, None)

    async def _mergeable(self, slug: str, number: int) -> tuple[Project, Ticket]:
        project, ticket = await self.tickets.get(slug, number)
        if project.protected_main:
            raise Conflict(
                f"{project.default_branch} is protected: merge ticket #{number}'s pull request on"
                f" GitHub (`codality pr merge {number}`)",
                details={"reason": "protected"},
            )
        return project, ticket

    async def merge(
        self,
        slug: str,
        number: int,
        user: User,
        strategy: Strategy | None = None,
        force: bool = False,
        push: bool = True,
    ) -> dict[str, Any]:
        """Merge the ticket's branch into the default branch; the ticket ends ``done``. Stacked
        work (``services.stacks``) merges the unmerged tickets below it first, in order.

        A branch that changes nothing is refused (409, ``no_changes``) unless ``force``: an
        agent that did no work should not close its ticket by accident. Each ticket's merge,
        its kept diff and its ``done`` are one step under the repository's lock; the push to
        origin (unless ``push`` is false or ``push_after_merge`` off) comes once after, outside
        it, bounded by ``git_timeout_s``, and whatever it did is reported on the tickets.
        """
        project, ticket = await self._mergeable(slug, number)
        work_branch(ticket, "merge")
        settings = await self.settings.current()
        chosen: Strategy = strategy or settings.merge_strategy
        merged: list[tuple[Ticket, MergeOutcome, MergeDiff]] = []
        failure: Conflict | None = None
        async with self.repo_lock(project.path):
            stack = await self.stacks.stack(await self.tickets.get_by_id(ticket.id))
            for each in stack:
                self._refuse_while_agent_runs(each, "merge")
            plan = await self._push_plan(Path(project.path), project.default_branch, push, settings)
            try:
                for each in stack:
                    merged.append(await self._merge_one(project, each, user, chosen, force, plan))
            except Conflict as exc:
                if not merged:
                    raise
                failure = exc
        report = (
            await self._push(project, plan, [t.id for t, _, _ in merged])
            if plan.state is PushState.PENDING
            else plan
        )
        await self._publish_merged(project, [t for t, _, _ in merged])
        numbers = [t.number for t, _, _ in merged]
        if failure is not None:
            raise await self._stopped(project, stack[len(merged)], numbers, report, failure)
        _, outcome, kept = merged[-1]
        done_ticket = await self.tickets.get_by_id(ticket.id)
        return {
            "ticket": done_ticket.view(),
            "merge": {
                "strategy": chosen,
                "kind": outcome.kind,
                "before": outcome.before,
                "after": outcome.after,
                "checkouts_updated": list(outcome.checkouts_updated),
            },
            "stats": kept.stats_view(),
            "push": report.view(project.slug, number),
            "merged": [
                {"number": t.number, "kind": o.kind, "after": o.after} for t, o, _ in merged
            ],
        }

    async def _stopped(
        self,
        project: Project,
        stuck: Ticket,
        merged: list[int],
        report: PushReport,
        failure: Conflict,
    ) -> Conflict:
        """A stack merge that stopped at ``stuck`` after merging the tickets below it: what
        the caller is told, also kept as a comment on ``stuck`` (which stays as it was)."""
        done = ", ".join(f"#{n}" for n in merged)
        message = (
            f"merged {done} ({report.summary()}); #{stuck.number} did not merge: {failure.message}"
        )
        paths = failure.details.get("conflicts")
        files = f" ({', '.join(map(str, paths))})" if isinstance(paths, list) and paths else ""
        await self.comments.create(
            project.slug,
            stuck.number,
            f"Merging the stack stopped here: {message}{files}. This ticket's work stays on its"
            " branch; resolve that (or run the agent again), then"
            f" `codality ticket merge {stuck.number}`.",
            None,
            "agent",
        )
        return Conflict(message, details={**failure.details, "merged": merged})

    async def _publish_merged(self, project: Project, merged: list[Ticket]) -> None:
        """Boards see the merged tickets done, and the tickets stacked on them standing on the
        default branch now."""
        for each in merged:
            self.tickets.publish_updated(project, await self.tickets.get_by_id(each.id))
            for above in await self.tickets.stacked_on(each.id):
                if above.branch is not None:
                    self.tickets.publish_updated(project, above)

    async def _merge_one(
        self,
        project: Project,
        ticket: Ticket,
        user: User,
        chosen: Strategy,
        force: bool,
        plan: PushReport,
    ) -> tuple[Ticket, MergeOutcome, MergeDiff]:
        """One ticket of a merge (repository lock held): commit what its worktree holds, merge,
        keep the diff, ``done``, and remove the worktree and branch."""
        branch = work_branch(ticket, "merge")
        number = ticket.number
        await self._commit_pending(
            project, ticket, user, "uncommitted work, committed for the merge"
        )
        subject = work_subject(ticket.title, number)
        message = (
            f"{subject}\n\nSquashed from {branch}.\n"
            if chosen == "squash"
            else f"Merge {branch}: {subject}\n"
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
        kept = MergeDiff(
            ticket.id, chosen, outcome.after, diff.patch, diff.stats(), now_iso(), diff.not_shown()
        )
        async with self.db.transaction() as conn:
            await db_reviews.save_merge_diff(conn, kept)
            await db_reviews.record_push(conn, [ticket.id], plan)
            await self.tickets.move_in(conn, ticket.id, Action.MERGE)
        await self._remove(project, ticket, branch)
        return ticket, outcome, kept

    async def merge_plan(self, slug: str, number: int, push: bool = True) -> dict[str, Any]:
        """What ``merge`` would do, for a confirmation to show: the default branch it merges
        into, the tickets it merges in order, and whether it then pushes to origin (and if not,
        why not)."""
        project, ticket = await self._mergeable(slug, number)
        work_branch(ticket, "merge")
        settings = await self.settings.current()
        plan = await self._push_plan(Path(project.path), project.default_branch, push, settings)
        stack = await self.stacks.stack(ticket)
        return {
            "target": project.default_branch,
            "tickets": [{"number": t.number, "title": t.title, "branch": t.branch} for t in stack],
            "push": {
                "will_push": plan.state is PushState.PENDING,
                "remote": REMOTE,
                "reason": plan.detail,
            },
        }

    async def push_again(self, slug: str, number: int) -> dict[str, Any]:
        """Push the default branch a merged ticket went into, after its push failed, timed out
        or was left out; every merge it carries to origin is marked pushed."""
        project, ticket = await self.tickets.get(slug, number)
        last = await db_reviews.push_report(self.db.reader, ticket.id)
        if last is None:
            raise Conflict(
                f"ticket #{number} has not been merged here; nothing of it to push",
                details={"reason": "not_merged"},
            )
        if last.state is PushState.PUSHED:
            raise Conflict(
                f"ticket #{number} is on {REMOTE} already", details={"reason": "already_pushed"}
            )
        if not await asyncio.to_thread(has_origin, Path(project.path)):
            raise Conflict(
                f"the repository has no `{REMOTE}` remote to push to; add one with"
                f" `git remote add {REMOTE} URL` in {project.path}",
                details={"reason": "no_remote"},
            )
        report = await self._push(project, PushReport(PushState.PENDING, last.branch), [ticket.id])
        pushed = await self.tickets.get_by_id(ticket.id)
        self.tickets.publish_updated(project, pushed)
        return {"ticket": pushed.view(), "push": report.view(project.slug, number)}

    async def _push_plan(
        self, repo: Path, branch: str, wanted: bool, settings: Settings
    ) -> PushReport:
        """What the merge will do about origin: push (``pending``), or why not."""
        if not await asyncio.to_thread(has_origin, repo):
            return PushReport(PushState.NO_REMOTE, branch, f"the repository has no {REMOTE} remote")
        if not wanted:
            return PushReport(PushState.NOT_PUSHED, branch, "push off for this merge")
        if not settings.push_after_merge:
            return PushReport(PushState.NOT_PUSHED, branch, "the push_after_merge setting is off")
        return PushReport(PushState.PENDING, branch)

    async def _push(self, project: Project, plan: PushReport, ticket_ids: list[int]) -> PushReport:
        """Push ``plan.branch`` to origin (no lock held). The tickets asked for get the outcome,
        ``pushed`` or ``failed`` with the reason; any other merge the push carried is pushed too."""
        timeout = float((await self.settings.current()).git_timeout_s)
        repo = Path(project.path)
        carried = list(ticket_ids)
        try:
            sha = await with_deadline(
                partial(push_to_origin, repo, plan.branch, timeout), timeout, "push"
            )
        except RemoteError as exc:
            report = replace(plan, state=PushState.FAILED, detail=str(exc), at=now_iso())
        else:
            report = replace(plan, state=PushState.PUSHED, detail=None, at=now_iso())
            merges = await db_reviews.unpushed_merges(self.db.reader, project.id, plan.branch)
            carried += await asyncio.to_thread(reachable_from, repo, sha, merges)
        async with self.db.transaction() as conn:
            await db_reviews.record_push(conn, carried, report)
        return report

    async def discard(self, slug: str, number: int, user: User, cancel: bool) -> dict[str, Any]:
        """Keep the branch tip under ``refs/codality/discarded/``, remove worktree and branch."""
        project, ticket = await self.tickets.get(slug, number)
        branch = work_branch(ticket, "discard")
        self._refuse_while_agent_runs(ticket, "discard")
        await self.stacks.check_nothing_stacked_on(ticket, "discard")
        closed = await self._close_pull_request(ticket) if self._close_pull_request else None
        async with self.repo_lock(project.path):
            self._refuse_while_agent_runs(ticket, "discard")
            await self.stacks.check_nothing_stacked_on(ticket, "discard")
            await self._commit_pending(project, ticket, user, "uncommitted work, kept on discard")
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            ref, sha = await asyncio.to_thread(
                keep_branch_tip, Path(project.path), branch, f"{number}-{stamp}"
            )
            await self._remove(project, ticket, branch)
            action = Action.DISCARD_CANCEL if cancel else Action.DISCARD
            updated = await self.tickets.move(ticket.id, action)
        return {
            "ticket": updated.view(),
            "kept_ref": ref,
            "kept_sha": sha,
            "pull_request_closed": closed.number if closed else None,
        }

    async def remove_merged(self, project: Project, ticket: Ticket) -> None:
        """After its PR merged on GitHub: the worktree and branch go. Uncommitted work (never
        part of the PR) is committed and kept under ``refs/codality/discarded/`` first."""
        async with self.repo_lock(project.path):
            branch = ticket.branch
            if branch and ticket.worktree_path and Path(ticket.worktree_path).is_dir():
                why = "uncommitted work, kept when its pull request merged"
                if await self._commit_pending(project, ticket, None, why):
                    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
                    await asyncio.to_thread(
                        keep_branch_tip, Path(project.path), branch, f"{ticket.number}-{stamp}"
                    )
            if branch:
                await self._remove(project, ticket, branch)
            else:
                await self.tickets.set_worktree(ticket.id, None, None)
