"""Protected mode and the CI feedback loop (docs §7, §9).

In a protected project the agent's work reaches the default branch only through its pull request:
a completed run opens the ticket's PR, or pushes to it. GitHub's answers come back as work:

* a failing CI — once every check run of the head commit has finished — starts a session with
  the failing checks' output and annotations (``🔄 CI auto-fix attempt N/3``), at most
  ``ci_max_retries`` times in a row; after that a comment asks a person to look;
* a person's PR comment, or a review requesting changes, starts a session with its text.

Each start posts a ``🔄 Working on this — triggered by …`` comment, each end a completion comment.
Any human interaction resets the counter (``webhooks.py`` does it as the events arrive); comments
by ``…[bot]`` accounts and Codality's own check runs never start anything.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from codality_server.db import github as db_github
from codality_server.domain import github as gh
from codality_server.domain.errors import DomainError
from codality_server.domain.events import FeedbackStarted
from codality_server.domain.projects import Project
from codality_server.domain.sessions import AgentSession, OwnerKind, SessionStatus, Trigger
from codality_server.domain.tickets import TicketStatus
from codality_server.github.client import GitHubError

from .base import Core, Service, now_iso

if TYPE_CHECKING:
    from .comments import CommentService
    from .github import GitHubService
    from .projects import ProjectService
    from .pull_requests import PullRequestService
    from .settings import SettingsService
    from .ticket_agent import TicketAgentService
    from .tickets import TicketService

log = logging.getLogger("codality.feedback")
FEEDBACK_TRIGGERS = frozenset({Trigger.CI.value, Trigger.COMMENT.value, Trigger.REVIEW.value})
MAX_DETAIL_CHARS = 20_000


class FeedbackService(Service):
    """Protected mode's PR updates and the agent's answers to CI, comments and reviews."""

    def __init__(
        self,
        core: Core,
        *,
        settings: SettingsService,
        projects: ProjectService,
        tickets: TicketService,
        comments: CommentService,
        github: GitHubService,
        agent: TicketAgentService,
        pull_requests: PullRequestService,
    ) -> None:
        super().__init__(core)
        self.settings = settings
        self.projects = projects
        self.tickets = tickets
        self.comments = comments
        self.github = github
        self.agent = agent
        self.pull_requests = pull_requests

    # --- an agent run ended -----------------------------------------------------------------

    async def session_ended(self, session: AgentSession) -> None:
        """A ticket's run ended: in a protected project its work goes to the PR; every run's
        outcome shows as ``codality/agent`` on an open PR."""
        if session.owner.kind is not OwnerKind.TICKET:
            return
        ticket = await self.tickets.get_by_id(session.owner.id)
        project = await self.projects.get_by_id(ticket.project_id)
        if not (project.github_owner and project.github_repo):
            return
        pulls = self.pull_requests
        pr = await pulls.find(ticket.id)
        completed = session.status is SessionStatus.COMPLETED
        try:
            if project.protected_main and completed and ticket.branch:
                if pr is not None and pr.state is gh.PrState.OPEN:
                    await pulls.update(project.slug, ticket.number, None)
                else:
                    await pulls.create(project.slug, ticket.number, None)
                pr = await pulls.find(ticket.id)
            elif pr is not None and pr.state is gh.PrState.OPEN:
                await pulls.post_agent_check(pr)
        except DomainError as exc:
            log.warning("ticket #%d's pull request was not updated: %s", ticket.number, exc)
            await self.comments.create(
                project.slug,
                ticket.number,
                f"The agent finished, but its work could not go to GitHub: {exc.message}",
                None,
                "agent",
            )
            return
        if (
            pr is None
            or pr.state is not gh.PrState.OPEN
            or session.trigger not in FEEDBACK_TRIGGERS
        ):
            return
        if completed:
            text = f"✅ Done, pushed `{pr.head_sha[:10]}`.\n\n{(session.summary or '').strip()}"
        else:
            why = session.error or session.status.value
            text = f"⚠️ The agent's run ended {session.status.value}: {why}"
        await self._reply(pr, text.strip() + "\n")

    # --- CI ----------------------------------------------------------------------------------

    async def on_check_completed(self, project: Project, pr: gh.PullRequest) -> str:
        """A check run of the PR's head finished: once all have, a failure starts a fix."""
        if not project.protected_main:
            return "CI feedback runs in protected projects only"
        if pr.ci_handled_sha == pr.head_sha:
            return f"CI of {pr.head_sha[:10]} already handled"
        client, token = await self.github.api()
        base = f"/repos/{pr.owner}/{pr.repo}"
        try:
            found = await client.all(
                f"{base}/commits/{pr.head_sha}/check-runs", token, "check_runs"
            )
        except GitHubError as exc:
            return f"could not read the check runs: {exc.message}"
        runs = [
            r for r in gh.latest_runs([gh.CheckRun.from_github(x) for x in found]) if not r.ours
        ]
        waiting = [r.name for r in runs if r.outcome == "pending"]
        if waiting:
            return f"waiting for {len(waiting)} check(s): {', '.join(waiting)}"
        failing = [
            (r, x) for r in runs if r.outcome == "failed" for x in found if x["id"] == r.github_id
        ]
        if not failing:
            return "every check passed"
        limit = (await self.settings.current()).ci_max_retries
        if not await self._claim(pr):
            return f"CI of {pr.head_sha[:10]} already handled"
        names = ", ".join(r.name for r, _ in failing)
        if pr.auto_retry_count >= limit:
            await self._reply(
                pr,
                f"🛑 I tried {pr.auto_retry_count} fixes and CI still fails ({names}). A human"
                " needs to look at this; comment or `/codality retry` to let me try again.\n",
            )
            return f"CI failing ({names}); {limit} attempts used, a human needs to look"
        attempt = pr.auto_retry_count + 1
        details = await self._failure_details(client, token, base, failing)
        ticket = await self.tickets.get_by_id(pr.ticket_id)
        started = await self._start(
            project,
            pr,
            Trigger.CI,
            details,
            f"🔄 Working on this — triggered by CI failure ({names}).\n\n"
            f"🔄 CI auto-fix attempt {attempt}/{limit}\n",
        )
        if started is not None:
            await self.pull_requests.set_retry_count(pr, attempt)
            return f"CI failing ({names}): auto-fix attempt {attempt}/{limit} on #{ticket.number}"
        return f"CI failing ({names}); the agent could not start"

    async def _claim(self, pr: gh.PullRequest) -> bool:
        """Mark the head's CI as taken up; False when another event already did."""
        async with self.db.transaction() as conn:
            fresh = await db_github.pr_for_ticket(conn, pr.ticket_id)
            if fresh is None or fresh.ci_handled_sha == pr.head_sha:
                return False
            await db_github.update_pr(conn, pr.id, now_iso(), ci_handled_sha=pr.head_sha)
        return True

    async def _failure_details(
        self, client: Any, token: str, base: str, failing: list[tuple[gh.CheckRun, dict[str, Any]]]
    ) -> str:
        """Each failing check's output text and annotations, as the agent's brief. CI output
        prints whatever the code under test prints, so it is quoted as data, with the check's
        app as its author; each check gets its share of the brief's length."""
        parts = [
            "CI failed on this ticket's pull request. Fix the failures below, run the checks"
            " locally where you can; the server commits and pushes your work."
        ]
        share = MAX_DETAIL_CHARS // max(len(failing), 1)
        for run, raw in failing:
            output = raw.get("output") or {}
            keys = ("title", "summary", "text")
            lines = [str(output[key]).strip() for key in keys if output.get(key)]
            try:
                notes = await client.all(f"{base}/check-runs/{run.github_id}/annotations", token)
            except GitHubError as exc:
                notes = []
                parts.append(f"(annotations of {run.name} unavailable: {exc.message})")
            for note in notes:
                where = f"{note.get('path')}:{note.get('start_line')}"
                level = note.get("annotation_level", "failure")
                lines.append(f"- {where} [{level}] {note.get('message', '')}".rstrip())
            author = f"the check run {run.name!r} of {run.app or 'an unnamed app'}"
            text = "\n".join(lines)[:share]
            quoted = gh.quoted("the output", author, text)
            parts += ["", f"### {run.name}: {run.conclusion}", quoted]
        return "\n".join(parts)

    # --- comments and reviews ------------------------------------------------------------------

    async def on_comment(
        self, project: Project, pr: gh.PullRequest, comment: dict[str, Any]
    ) -> str:
        if not project.protected_main:
            return "stored"
        login = _login(comment)
        author = _author(comment)
        message = "A comment on the pull request.\n\n" + gh.quoted(
            "a comment", author, str(comment.get("body") or "")
        )
        started = await self._start(
            project,
            pr,
            Trigger.COMMENT,
            message,
            f"🔄 Working on this — triggered by a comment from @{login}.\n",
        )
        return "the agent responds" if started else "the agent could not start"

    async def on_changes_requested(
        self, project: Project, pr: gh.PullRequest, review: dict[str, Any]
    ) -> str:
        if not project.protected_main:
            return "stored"
        login = _login(review)
        author = _author(review)
        client, token = await self.github.api()
        base = f"/repos/{pr.owner}/{pr.repo}"
        try:
            inline = await client.all(f"{base}/pulls/{pr.number}/comments", token)
        except GitHubError:
            inline = []
        lines = [str(review.get("body") or "").strip()]
        for note in inline:
            if note.get("pull_request_review_id") == review.get("id"):
                lines.append(f"- {note.get('path')}:{note.get('line')}: {note.get('body', '')}")
        message = "A review requested changes on the pull request.\n\n" + gh.quoted(
            "a review", author, "\n".join(lines)
        )
        started = await self._start(
            project,
            pr,
            Trigger.REVIEW,
            message,
            f"🔄 Working on this — triggered by a review from @{login}.\n",
        )
        return "the agent works through the review" if started else "the agent could not start"

    # --- helpers ----------------------------------------------------------------------------

    async def _start(
        self, project: Project, pr: gh.PullRequest, trigger: Trigger, message: str, comment: str
    ) -> dict[str, Any] | None:
        """Start the ticket's agent on ``message``; post the start comment when it runs."""
        ticket = await self.tickets.get_by_id(pr.ticket_id)
        if ticket.status in (TicketStatus.DONE, TicketStatus.CANCELLED):
            return None
        try:
            session = await self.agent.start(
                project.slug, ticket.number, None, trigger=trigger.value, message=message
            )
        except DomainError as exc:
            await self._reply(pr, f"⚠️ I could not start on this: {exc.message}\n")
            return None
        await self._reply(pr, comment)
        await self.pull_requests.post_check(
            pr, gh.AGENT_CHECK, None, "Agent working", f"Triggered by {trigger.value}."
        )
        started = {
            "ticket_id": ticket.id,
            "trigger": trigger.value,
            "pull_request": pr.number,
            "session": session,
        }
        self.github.publish(FeedbackStarted.of(started), project.id, ticket.id)
        return session

    async def _reply(self, pr: gh.PullRequest, text: str) -> None:
        try:
            await self.pull_requests.reply(pr, text)
        except DomainError as exc:
            log.warning("commenting on pull request #%d failed: %s", pr.number, exc)


def _login(item: dict[str, Any]) -> str:
    return str((item.get("user") or {}).get("login") or "someone")


def _author(item: dict[str, Any]) -> str:
    """A comment's or review's author as the model is told: login and association."""
    return f"@{_login(item)} ({item.get('author_association') or 'NONE'})"
