"""Diffs of a ticket's work, reviews of it, and the diff kept after a merge (product.md §6).

A ``changes_requested`` review closes the loop: unless ``feedback_on_review`` is off, it starts
an agent session (trigger ``review``) whose first message is the review, and publishes
``feedback:started``. The review is stored either way; if the agent cannot start (no API key,
too many running) the answer says why instead of failing the review.
"""

from __future__ import annotations

import asyncio
import builtins
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codality_server.db import reviews as db_reviews
from codality_server.domain.errors import DomainError, InvalidInput, NotFound
from codality_server.domain.events import (
    FeedbackStarted,
    ReviewCreated,
    project_channel,
    ticket_channel,
)
from codality_server.domain.projects import Project
from codality_server.domain.reviews import (
    MergeDiff,
    Review,
    ReviewComment,
    ReviewCommentDraft,
    ReviewState,
    clean_review,
    feedback_message,
)
from codality_server.domain.tickets import Ticket, parse_choice, ticket_branch, work_branch
from codality_server.domain.users import User
from codality_server.git.diff import Diff, branch_diff

from .base import Core, Service, now_iso

if TYPE_CHECKING:
    from .pull_requests import PullRequestService
    from .settings import SettingsService
    from .stacks import StackService
    from .ticket_agent import TicketAgentService
    from .tickets import TicketService


def diff_view(diff: Diff, uncommitted: bool) -> dict[str, Any]:
    return {
        "base": diff.base,
        "head": diff.head,
        "uncommitted": uncommitted,
        "diff": diff.patch,
        "not_shown": diff.not_shown(),
    }


def stats_view(diff: Diff, uncommitted: bool) -> dict[str, Any]:
    return {"base": diff.base, "head": diff.head, "uncommitted": uncommitted, **diff.stats()}


class ReviewService(Service):
    """Diffs, reviews and merge diffs of tickets."""

    def __init__(
        self,
        core: Core,
        *,
        settings: SettingsService,
        tickets: TicketService,
        stacks: StackService,
        agent: TicketAgentService,
        pull_requests: PullRequestService,
    ) -> None:
        super().__init__(core)
        self.settings = settings
        self.tickets = tickets
        self.stacks = stacks
        self.agent = agent
        self.pull_requests = pull_requests

    async def diff(self, slug: str, number: int, committed: bool = False) -> Diff:
        """The branch against its base; uncommitted worktree changes unless ``committed``."""
        project, ticket = await self.tickets.get(slug, number)
        return await self.ticket_diff(project, ticket, committed)

    async def ticket_diff(self, project: Project, ticket: Ticket, committed: bool) -> Diff:
        """Against the default branch, or for stacked work the unmerged dependency's branch,
        from the commit the ticket's branch started at on (only its own work)."""
        branch = ticket_branch(ticket)
        worktree = None if committed or not ticket.worktree_path else Path(ticket.worktree_path)
        limit = (await self.settings.current()).max_file_mb * 1024 * 1024
        base = await self.stacks.base_of(project, ticket)
        return await asyncio.to_thread(
            branch_diff, Path(project.path), branch, base, worktree, limit, ticket.fork_sha
        )

    async def list(self, slug: str, number: int) -> builtins.list[Review]:
        _, ticket = await self.tickets.get(slug, number)
        return await db_reviews.list_reviews(self.db.reader, ticket.id)

    async def comments(self, slug: str, number: int) -> builtins.list[ReviewComment]:
        _, ticket = await self.tickets.get(slug, number)
        return await db_reviews.list_review_comments(self.db.reader, ticket.id)

    async def merge_diff(self, slug: str, number: int) -> MergeDiff:
        _, ticket = await self.tickets.get(slug, number)
        found = await db_reviews.get_merge_diff(self.db.reader, ticket.id)
        if found is None:
            raise NotFound(f"ticket #{number} has not been merged")
        return found

    async def create(
        self,
        slug: str,
        number: int,
        user: User,
        state: str,
        body: str,
        comments: builtins.list[ReviewCommentDraft],
    ) -> dict[str, Any]:
        """Store a review; its inline comments must point at files and lines of the diff."""
        chosen = parse_choice(ReviewState, state, "state")
        text, drafts = clean_review(chosen, body, comments)
        project, ticket = await self.tickets.get(slug, number)
        work_branch(ticket, "review")
        if drafts:
            await self._check_against_diff(project, ticket, drafts)
        async with self.db.transaction() as conn:
            review = await db_reviews.insert_review(
                conn, ticket.id, user.id, chosen, text, drafts, now_iso()
            )
        channels = (ticket_channel(ticket.id), project_channel(project.id))
        self.bus.publish(ReviewCreated.of(review.view()), channels)
        answer = review.view()
        await self.pull_requests.on_codality_review(ticket, chosen.value, text)
        if chosen == ReviewState.CHANGES_REQUESTED:
            answer["feedback"] = await self._start_feedback(project, ticket, user, review)
        return answer

    async def _check_against_diff(
        self, project: Project, ticket: Ticket, drafts: builtins.list[ReviewCommentDraft]
    ) -> None:
        diff = await self.ticket_diff(project, ticket, committed=False)
        for i, draft in enumerate(drafts):
            changed = diff.file(draft.path)
            if changed is None:
                raise InvalidInput(
                    f"comments.{i}.path: {draft.path!r} is not part of the diff",
                    field=f"comments.{i}.path",
                )
            if not changed.has_line(draft.line):
                raise InvalidInput(
                    f"comments.{i}.line: line {draft.line} of {draft.path} is outside the diff",
                    field=f"comments.{i}.line",
                )

    async def _start_feedback(
        self, project: Project, ticket: Ticket, user: User, review: Review
    ) -> dict[str, Any]:
        """Start the agent on the review, unless the setting is off; report what happened."""
        if not (await self.settings.current()).feedback_on_review:
            return {"started": False, "reason": "feedback_on_review is off"}
        try:
            session = await self.agent.start(
                project.slug,
                ticket.number,
                user,
                trigger="review",
                message=feedback_message(review),
            )
        except DomainError as exc:
            return {"started": False, "reason": exc.message}
        data = {"ticket_id": ticket.id, "review_id": review.id, "session": session}
        channels = (ticket_channel(ticket.id), project_channel(project.id))
        self.bus.publish(FeedbackStarted.of(data), channels)
        return {"started": True, "session": session}
