"""GitHub webhooks (docs §8.4–§8.5): verify, log, answer at once, do the work afterwards.

``receive`` checks the HMAC-SHA256 signature over the raw body before anything else (a bad or
missing one is a 403 and nothing is stored or run), records the delivery with its body, publishes
``github:webhook`` and returns; the event's work runs in a background task, one repository at a
time in arrival order. A delivery id seen before is answered and logged as skipped. The body is
kept until the work is done: a delivery still waiting when the server stops (or is killed) runs
at the next start; one whose work had begun is marked failed rather than done twice.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from codality_server.db import github as db_github
from codality_server.domain import github as gh
from codality_server.domain.errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    UnsupportedMediaType,
)
from codality_server.domain.events import GithubWebhook
from codality_server.domain.github import DeliveryStatus
from codality_server.domain.projects import Project
from codality_server.domain.sessions import Owner

from .base import Core, Service, now_iso

if TYPE_CHECKING:
    from .agent_sessions import AgentSessionService
    from .feedback import FeedbackService
    from .github import GitHubService
    from .projects import ProjectService
    from .pull_requests import PullRequestService
    from .settings import SettingsService
    from .ticket_agent import TicketAgentService
    from .tickets import TicketService

log = logging.getLogger("codality.webhooks")
KEEP_EVENTS = 10_000
JSON_TYPE = "application/json"
PRUNE_EVERY = 500
Outcome = tuple[DeliveryStatus, str]


class WebhookService(Service):
    """The receiver, the delivery log and the dispatcher of §8.4's table."""

    def __init__(
        self,
        core: Core,
        *,
        settings: SettingsService,
        projects: ProjectService,
        tickets: TicketService,
        agent_sessions: AgentSessionService,
        github: GitHubService,
        agent: TicketAgentService,
        pull_requests: PullRequestService,
        feedback: FeedbackService,
    ) -> None:
        super().__init__(core)
        self.settings = settings
        self.projects = projects
        self.tickets = tickets
        self.agent_sessions = agent_sessions
        self.github = github
        self.agent = agent
        self.pull_requests = pull_requests
        self.feedback = feedback
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._inserted = 0

    async def start(self) -> None:
        """Fail the deliveries a stop cut short; run the ones that were still waiting."""
        async with self.db.transaction() as conn:
            failed = await db_github.fail_interrupted(conn, now_iso())
            waiting = await db_github.waiting_deliveries(conn)
        if failed:
            log.warning("%d webhook deliveries were stopped while being processed", failed)
        for event_id, event, body, repository in waiting:
            self._schedule(event_id, event, json.loads(body), repository)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    def repository_lock(self, repository: str) -> asyncio.Lock:
        """The lock that runs one repository's deliveries one at a time, in arrival order."""
        return self._locks.setdefault(repository.lower(), asyncio.Lock())

    async def idle(self) -> None:
        """Wait until every delivery received so far has been processed (tests, benches)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    # --- receiving --------------------------------------------------------------------------

    async def signature(self, headers: Sequence[str]) -> gh.WebhookSignature:
        """The check a delivery's body is fed to as it arrives, from its ``X-Hub-Signature-256``
        headers; refused (403) before the body is read when webhooks are not set up or the
        header cannot be a signature (missing, malformed, or sent twice)."""
        env = await self.settings.env_values()
        secret = env.get(gh.ENV_WEBHOOK_SECRET)
        if not secret:
            raise Forbidden("webhooks are not set up: GITHUB_WEBHOOK_SECRET is not set")
        if len(headers) > 1:
            raise Forbidden("the X-Hub-Signature-256 header is sent more than once")
        return gh.WebhookSignature(headers[0] if headers else None, secret)

    async def receive(
        self,
        headers: Mapping[str, str],
        content_type: str,
        body: bytes,
        signature: gh.WebhookSignature,
    ) -> dict[str, Any]:
        """Log and answer a delivery whose ``body`` went through ``signature``. The signature
        comes first (403), then the content type (415), the event headers (400), and the body:
        a signed body that is not a JSON object is logged as a failed delivery and refused."""
        signature.verify()
        if content_type != JSON_TYPE:
            raise UnsupportedMediaType(
                f"a webhook's body must be JSON, sent as Content-Type: {JSON_TYPE}"
                " (set the App's webhook content type to application/json)"
            )
        event = (headers.get("X-GitHub-Event") or "").strip()
        delivery = (headers.get("X-GitHub-Delivery") or "").strip()
        if not event or len(event) > 100:
            raise InvalidInput(
                "the X-GitHub-Event header is missing or over 100 characters",
                field="X-GitHub-Event",
            )
        if not delivery or len(delivery) > 200:
            raise InvalidInput(
                "the X-GitHub-Delivery header is missing or over 200 characters",
                field="X-GitHub-Delivery",
            )
        try:
            payload = gh.webhook_payload(body)
        except InvalidInput as exc:
            await self._refused(delivery, event, exc.message)
            raise
        action = payload.get("action") if isinstance(payload.get("action"), str) else None
        repository = _full_name(payload)
        async with self.db.transaction() as conn:
            row = await db_github.record_delivery(
                conn,
                delivery_id=delivery,
                event=event,
                action=action,
                repository=repository,
                answered="pong" if event == "ping" else None,
                payload=body,
                now=now_iso(),
            )
            self._inserted += 1
            if self._inserted % PRUNE_EVERY == 0:
                await db_github.prune_events(conn, KEEP_EVENTS)
        if row.status is DeliveryStatus.RECEIVED:
            self._schedule(row.id, event, payload, repository or "")
        else:
            self.github.publish(GithubWebhook(**row.view()), row.project_id, None)
        answer = {"ok": True, "id": row.id, "status": row.status.value}
        if event == "ping":
            answer["zen"] = "pong"
        return answer

    async def _refused(self, delivery: str, event: str, reason: str) -> None:
        """A signed delivery whose body cannot be read as an event: a ``failed`` row that says
        why, so it shows where deliveries are listed."""
        async with self.db.transaction() as conn:
            row = await db_github.record_delivery(
                conn,
                delivery_id=delivery,
                event=event,
                action=None,
                repository=None,
                answered=reason,
                payload=b"",
                now=now_iso(),
            )
            if row.status is not DeliveryStatus.SKIPPED:
                row = (
                    await db_github.finish_event(
                        conn, row.id, None, DeliveryStatus.FAILED, reason, now_iso()
                    )
                    or row
                )
        log.info("webhook delivery %s (%s) refused: %s", delivery, event, reason)
        self.github.publish(GithubWebhook(**row.view()), None, None)

    async def events(
        self, slug: str | None, limit: int, offset: int
    ) -> builtins.list[dict[str, Any]]:
        project_id = (await self.projects.get(slug)).id if slug else None
        rows = await db_github.list_events(self.db.reader, project_id, limit, offset)
        return [row.view() for row in rows]

    # --- processing ---------------------------------------------------------------------------

    def _schedule(
        self, event_id: int, event: str, payload: dict[str, Any], repository: str
    ) -> None:
        task = asyncio.get_running_loop().create_task(
            self._process(event_id, event, payload, repository)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _process(
        self, event_id: int, event: str, payload: dict[str, Any], repository: str
    ) -> None:
        """The delivery's work, after the answer; its log row gets the project and the result,
        and ``github:webhook`` goes out on the project's channel. Cancelled while it waits for
        its turn, the delivery stays ``received`` and runs at the next start."""
        async with self.repository_lock(repository):
            async with self.db.transaction() as conn:
                await db_github.mark_started(conn, event_id, now_iso())
            project = await self.github.project_for_repo(repository) if repository else None
            try:
                status, result = await self._dispatch(event, payload, project)
            except DomainError as exc:
                status, result = DeliveryStatus.FAILED, exc.message
            except asyncio.CancelledError:
                status, result = DeliveryStatus.FAILED, "the server stopped while processing it"
            except Exception as exc:
                log.exception("processing webhook %d (%s) failed", event_id, event)
                status, result = DeliveryStatus.FAILED, f"internal error: {type(exc).__name__}"
            project_id = project.id if project else None
            async with self.db.transaction() as conn:
                row = await db_github.finish_event(
                    conn, event_id, project_id, status, result[:2000], now_iso()
                )
            if row is not None:
                self.github.publish(GithubWebhook(**row.view()), project_id, None)

    async def _dispatch(
        self, event: str, payload: dict[str, Any], project: Project | None
    ) -> Outcome:
        if event == "installation":
            return await self._installation(payload)
        if project is None:
            return DeliveryStatus.IGNORED, f"no project is linked to {_full_name(payload)}"
        handler = {
            "pull_request": self._pull_request,
            "push": self._push,
            "check_run": self._check_run,
            "check_suite": self._check_suite,
            "issue_comment": self._issue_comment,
            "pull_request_review": self._review,
        }.get(event)
        if handler is None:
            return DeliveryStatus.IGNORED, f"{event} events are not handled"
        return await handler(project, payload)

    async def _installation(self, payload: dict[str, Any]) -> Outcome:
        installation = payload.get("installation") or {}
        config = await self.github.app_config()
        if str(installation.get("app_id") or "") != (config.app_id or ""):
            return DeliveryStatus.IGNORED, "an installation of another App"
        if payload.get("action") == "deleted":
            forgot = await self.github.forget_installation(str(installation.get("id")))
            return DeliveryStatus.PROCESSED, "installation removed" if forgot else "not ours"
        if payload.get("action") == "created" and not config.installation_id:
            await self.github.record_installation(str(installation.get("id")), None, True)
            return DeliveryStatus.PROCESSED, f"installation {installation.get('id')} recorded"
        return DeliveryStatus.PROCESSED, "logged"

    async def _pr(self, project: Project, number: Any) -> gh.PullRequest | None:
        if not isinstance(number, int):
            return None
        assert project.github_owner and project.github_repo
        return await db_github.pr_by_number(
            self.db.reader, project.github_owner, project.github_repo, number
        )

    async def _pull_request(self, project: Project, payload: dict[str, Any]) -> Outcome:
        data = payload.get("pull_request") or {}
        pr = await self._pr(project, data.get("number"))
        if pr is None:
            return DeliveryStatus.IGNORED, f"pull request #{data.get('number')} is no ticket's"
        pulls = self.pull_requests
        action = payload.get("action")
        if action == "closed" and data.get("merged"):
            sha = str(data.get("merge_commit_sha") or "")
            return DeliveryStatus.PROCESSED, await pulls.on_merged(project, pr, sha)
        if action == "closed":
            return DeliveryStatus.PROCESSED, await pulls.on_closed(project, pr)
        if action in ("opened", "reopened", "synchronize", "edited"):
            return DeliveryStatus.PROCESSED, await pulls.on_pr_changed(project, pr, data)
        return DeliveryStatus.PROCESSED, f"logged ({action})"

    async def _push(self, project: Project, payload: dict[str, Any]) -> Outcome:
        ref = str(payload.get("ref") or "")
        if ref != f"refs/heads/{project.default_branch}":
            return DeliveryStatus.IGNORED, f"a push to {ref}, not the default branch"
        if payload.get("deleted"):
            return DeliveryStatus.IGNORED, "the default branch was deleted"
        pulls = self.pull_requests
        return DeliveryStatus.PROCESSED, await pulls.sync_default_branch(project, rebase=True)

    async def _check_run(self, project: Project, payload: dict[str, Any]) -> Outcome:
        run = gh.CheckRun.from_github(payload.get("check_run") or {})
        prs = await self.pull_requests.on_check_run(project, run)
        if not prs:
            return DeliveryStatus.IGNORED, f"{run.name}: not the head of a ticket's pull request"
        notes = [f"{run.name} {run.outcome} on " + ", ".join(f"#{pr.number}" for pr in prs)]
        if run.status == "completed" and not run.ours:
            for pr in prs:
                notes.append(await self.feedback.on_check_completed(project, pr))
        return DeliveryStatus.PROCESSED, "; ".join(notes)

    async def _check_suite(self, project: Project, payload: dict[str, Any]) -> Outcome:
        suite = payload.get("check_suite") or {}
        return (
            DeliveryStatus.PROCESSED,
            f"logged ({suite.get('conclusion') or suite.get('status')})",
        )

    async def _issue_comment(self, project: Project, payload: dict[str, Any]) -> Outcome:
        issue = payload.get("issue") or {}
        comment = payload.get("comment") or {}
        if not issue.get("pull_request"):
            return DeliveryStatus.IGNORED, "a comment on an issue, not a pull request"
        pr = await self._pr(project, issue.get("number"))
        if pr is None:
            return DeliveryStatus.IGNORED, f"pull request #{issue.get('number')} is no ticket's"
        if payload.get("action") != "created":
            return DeliveryStatus.PROCESSED, f"logged ({payload.get('action')})"
        author = str((comment.get("user") or {}).get("login") or "")
        if gh.is_bot(author):
            return DeliveryStatus.IGNORED, f"a comment by {author}"
        refusal = await self._refusal(author, comment.get("author_association"))
        if refusal is not None:
            return DeliveryStatus.IGNORED, f"a comment {refusal}"
        body = str(comment.get("body") or "")
        command = gh.slash_command(body)
        if command is not None:
            return DeliveryStatus.PROCESSED, await self._command(pr, command)
        await self.pull_requests.store_comment(pr, "issue", comment)
        pr = await self.pull_requests.set_retry_count(pr, 0)
        answer = await self.feedback.on_comment(project, pr, comment)
        return DeliveryStatus.PROCESSED, f"comment by {author} stored; retries reset; {answer}"

    async def _refusal(self, author: str, association: object) -> str | None:
        trusted = (await self.settings.current()).github_trusted_associations
        return gh.steering_refusal(author, association, trusted)

    async def _command(self, pr: gh.PullRequest, command: str) -> str:
        pulls = self.pull_requests
        limit = (await self.settings.current()).ci_max_retries
        if command == "retry":
            await pulls.reset_ci(pr)
            await pulls.reply(
                pr,
                f"🔄 CI auto-fix counter reset: the next CI failure gets {limit} fresh attempts.",
            )
            return "/codality retry: counter reset"
        if command == "status":
            await pulls.reply(pr, await self._status_text(pr, limit))
            return "/codality status: replied"
        await pulls.reply(pr, gh.commands_help(command or None))
        return f"/codality {command}: unknown; replied with the commands"

    async def _status_text(self, pr: gh.PullRequest, limit: int) -> str:
        ticket = await self.tickets.get_by_id(pr.ticket_id)
        sessions = await self.agent_sessions.for_owner(Owner.ticket(ticket.id))
        running = self.agent.is_running(ticket.id)
        agent = (
            "running"
            if running
            else (f"idle (last run {sessions[0].status.value})" if sessions else "never ran")
        )
        return (
            f"**Codality status** for ticket #{ticket.number} — {ticket.title}\n\n"
            f"- Ticket: {ticket.status.value}\n"
            f"- Agent: {agent}\n"
            f"- CI auto-fix attempts: {pr.auto_retry_count}/{limit}\n"
        )

    async def _review(self, project: Project, payload: dict[str, Any]) -> Outcome:
        review = payload.get("review") or {}
        pr = await self._pr(project, (payload.get("pull_request") or {}).get("number"))
        if pr is None:
            return DeliveryStatus.IGNORED, "the review is on no ticket's pull request"
        if payload.get("action") != "submitted":
            return DeliveryStatus.PROCESSED, f"logged ({payload.get('action')})"
        author = str((review.get("user") or {}).get("login") or "")
        bot = gh.is_bot(author)
        refusal = None if bot else await self._refusal(author, review.get("author_association"))
        if refusal is not None:
            return DeliveryStatus.IGNORED, f"a review {refusal}"
        result = await self.pull_requests.on_review(project, pr, review)
        if bot:
            return DeliveryStatus.PROCESSED, result
        asks = str(review.get("state") or "").lower() == "changes_requested"
        if asks or str(review.get("body") or "").strip():
            pr = await self.pull_requests.set_retry_count(pr, 0)
            result += "; retries reset"
        if asks:
            result += "; " + await self.feedback.on_changes_requested(project, pr, review)
        return DeliveryStatus.PROCESSED, result


def _full_name(payload: dict[str, Any]) -> str | None:
    repository = payload.get("repository")
    if isinstance(repository, dict) and isinstance(repository.get("full_name"), str):
        return str(repository["full_name"])[:300]
    return None
