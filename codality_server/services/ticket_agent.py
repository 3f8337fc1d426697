"""The ticket agent (``services.agent``): one client of the supervisor.

What is the ticket's own lives here: the checks before a start (409 when one runs or the ticket
is done, 429 above ``max_concurrent_agents``, 400 without an API key), the worktree and branch,
the ticket's status moves (``in_progress`` at the start, ``in_review`` after a completed run), the
prompt from the ticket and its comments, and the final commit of what the agent left
uncommitted. Task, inbox, stop, timeout and recording are the supervisor's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codality_server.agent import prompts
from codality_server.agent.kinds import TICKET
from codality_server.agent.loop import MessageMode
from codality_server.agent.model import ModelRequest
from codality_server.agent.sandbox import (
    Sandbox,
    choose_sandbox,
    sandbox_kind,
    scrubbed_env,
    secret_paths,
)
from codality_server.agent.tools import ToolContext
from codality_server.domain.errors import Conflict, InvalidInput
from codality_server.domain.events import project_channel, ticket_channel
from codality_server.domain.projects import Project
from codality_server.domain.sessions import (
    AgentSession,
    AgentStatus,
    Budget,
    Owner,
    SessionStatus,
    Trigger,
)
from codality_server.domain.settings import ModelAccess, Settings
from codality_server.domain.ticket_moves import Action, next_status
from codality_server.domain.tickets import Ticket
from codality_server.domain.users import User
from codality_server.domain.work_names import AGENT_IDENTITY, SUBJECT_MAX_CHARS, work_subject
from codality_server.git.watch import ChangeWatch
from codality_server.git.workdir import LeftOut
from codality_server.git.worktrees import branch_name, create_worktree

from .base import Core, RepoLocks, Service
from .knowledge import ServiceKnowledge
from .supervisor import LoopJob, Run, SessionSpec

if TYPE_CHECKING:
    from codality_server.agent.egress import EgressProxy

    from .agent_sessions import AgentSessionService
    from .comments import CommentService
    from .models import ModelService
    from .settings import SettingsService
    from .stacks import StackService
    from .supervisor import Supervisor
    from .tickets import TicketService
    from .worktrees import WorktreeService

log = logging.getLogger(__name__)


class TicketAgentService(Service):
    """Start, steer, stop and report the agent on tickets."""

    def __init__(
        self,
        core: Core,
        *,
        settings: SettingsService,
        tickets: TicketService,
        comments: CommentService,
        stacks: StackService,
        models: ModelService,
        agent_sessions: AgentSessionService,
        supervisor: Supervisor,
        worktrees: WorktreeService,
        repo_lock: RepoLocks,
        egress: EgressProxy,
    ) -> None:
        super().__init__(core)
        self.settings = settings
        self.tickets = tickets
        self.comments = comments
        self.stacks = stacks
        self.models = models
        self.agent_sessions = agent_sessions
        self.supervisor = supervisor
        self.worktrees = worktrees
        self.repo_lock = repo_lock
        self.egress = egress

    # --- queries ------------------------------------------------------------------------------

    def is_busy(self, ticket_id: int) -> bool:
        """Whether a session runs on the ticket or is being set up for it."""
        return self.supervisor.is_busy(Owner.ticket(ticket_id))

    def is_running(self, ticket_id: int) -> bool:
        """Whether a session runs on the ticket (one still being prepared does not count)."""
        return self.supervisor.running(Owner.ticket(ticket_id)) is not None

    async def status(self, slug: str, number: int) -> dict[str, Any]:
        """Whether an agent runs on the ticket, its current or last session, and every session."""
        _, ticket = await self.tickets.get(slug, number)
        owner = Owner.ticket(ticket.id)
        sessions = [s.shape() for s in await self.agent_sessions.for_owner(owner)]
        return AgentStatus(
            running=self.is_running(ticket.id),
            session=sessions[0] if sessions else None,
            sessions=sessions,
        ).model_dump(mode="json")

    async def session(self, slug: str, number: int, session_id: int) -> dict[str, Any]:
        _, ticket = await self.tickets.get(slug, number)
        return await self.supervisor.transcript(Owner.ticket(ticket.id), session_id)

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(
        self,
        slug: str,
        number: int,
        user: User | None,
        trigger: str = Trigger.MANUAL.value,
        message: str | None = None,
        model: str | None = None,
        budget: Budget = Budget(),
    ) -> dict[str, Any]:
        """Start the agent on a ticket; returns the new session's view at once. ``budget``'s
        limits replace the settings' for this run."""
        trigger = Trigger(trigger).value
        project, ticket = await self.tickets.get(slug, number)
        self._check_can_start(ticket)
        settings = await self.settings.current()
        env = await self.settings.env_values()
        access = ModelAccess.from_env(env)
        if model is not None and not model.strip():
            raise InvalidInput("model: must not be empty", field="model")
        if not ticket.worktree_path:  # dependencies on separate branches: refused here, not later
            await self.stacks.start_point(project, ticket)
        self._check_can_start(ticket)
        owner = Owner.ticket(ticket.id)
        busy = f"an agent is already running on ticket #{ticket.number}"
        supervisor = self.supervisor
        async with supervisor.claim(
            owner, limit=settings.max_concurrent_agents, busy=busy
        ) as claim:
            ticket, sandbox_kind = await self._prepare(project, ticket)
            job = TicketJob(
                self,
                project,
                ticket,
                user=user,
                trigger=trigger,
                message=message,
                settings=settings,
                env=env,
                access=access,
            )
            session = await claim.launch(
                SessionSpec(
                    owner,
                    TICKET,
                    channels=(ticket_channel(ticket.id), project_channel(project.id)),
                    model=model or settings.model,
                    trigger=trigger,
                    sandbox=sandbox_kind,
                    started_by=user.id if user else None,
                    timeout_s=float(settings.agent_timeout_s),
                    budget=budget,
                ),
                job,
            )
        return session.view()

    async def stop(self, slug: str, number: int) -> dict[str, Any]:
        """Stop the running agent: its tool's process group is killed; the session ``stopped``."""
        _, ticket = await self.tickets.get(slug, number)
        if not self.is_running(ticket.id):
            raise Conflict(f"no agent is running on ticket #{number}")
        return (await self.supervisor.stop(Owner.ticket(ticket.id))).view()

    async def deliver_message(
        self, ticket_id: int, text: str, mode: MessageMode = "steer", source: str = "user"
    ) -> dict[str, Any]:
        """Hand a message to the running agent (``steer``: with the next tool results;
        ``queue``: when it ends its turn) and publish it as ``agent:user_message``."""
        return await self.supervisor.deliver(
            Owner.ticket(ticket_id), text, mode, source, idle="no agent is running on this ticket"
        )

    async def take_comment(self, ticket_id: int, text: str) -> None:
        """A user's comment on a ticket whose agent runs steers it (the comment box)."""
        if self.is_running(ticket_id):
            await self.deliver_message(ticket_id, text, mode="steer", source="comment")

    async def message(self, slug: str, number: int, text: str, mode: MessageMode) -> dict[str, Any]:
        _, ticket = await self.tickets.get(slug, number)
        if not self.is_running(ticket.id):
            raise Conflict(f"no agent is running on ticket #{number}")
        return await self.deliver_message(ticket.id, text, mode, "user")

    # --- internals ----------------------------------------------------------------------------

    def _check_can_start(self, ticket: Ticket) -> None:
        if self.is_busy(ticket.id):
            raise Conflict(f"an agent is already running on ticket #{ticket.number}")
        self._check_status(ticket)

    @staticmethod
    def _check_status(ticket: Ticket) -> None:
        next_status(ticket.status, Action.AGENT_STARTS, ticket.number)

    async def _prepare(self, project: Project, ticket: Ticket) -> tuple[Ticket, str]:
        """The ticket's status for a new run; returns the ticket and the sandbox kind. The
        worktree is the run's first step (``TicketJob.run``), so a start answers at once."""
        settings = await self.settings.current()
        kind = await choose_sandbox(settings.sandbox, settings.sandbox_network)
        ticket = await self.tickets.move(ticket.id, Action.AGENT_STARTS)
        return ticket, kind

    async def make_worktree(self, project: Project, ticket: Ticket) -> Ticket:
        """The ticket's worktree and branch, recorded on the ticket: made when missing — from
        the branch of an unmerged dependency (stacked, ``services.stacks``), else from the
        default branch — and kept as they are otherwise. Work queues call it ahead of a
        ticket's turn, so the step to it does not wait on git."""
        worktree = Path(
            ticket.worktree_path or self.config.worktrees_dir / project.slug / str(ticket.number)
        )
        branch = ticket.branch or branch_name(ticket.number, ticket.title)
        async with self.repo_lock(project.path):
            # A merge or discard may have finished while this start waited for the lock.
            self._check_status(await self.tickets.get_by_id(ticket.id))
            below = await self.stacks.start_point(project, ticket)
            started = await asyncio.to_thread(
                create_worktree,
                Path(project.path),
                worktree,
                branch,
                below.branch if below is not None and below.branch else project.default_branch,
            )
            if started is not None:
                below_id = below.id if below is not None else None
                await self.tickets.set_stacked_on(
                    ticket.id, below_id, started if below is not None else None
                )
        return await self.tickets.set_worktree(ticket.id, branch, str(worktree))


@dataclass
class TicketJob:
    """One run on a ticket: the prompt from the ticket, the loop in its worktree, the commit."""

    agent: TicketAgentService
    project: Project
    ticket: Ticket
    user: User | None
    trigger: str
    message: str | None
    settings: Settings
    env: dict[str, str]
    access: ModelAccess

    async def run(self, run: Run) -> str:
        agent, settings, project = self.agent, self.settings, self.project
        ticket = await self._worktree(run)
        worktree = Path(ticket.worktree_path or "")
        identity = self.user.git_identity if self.user else AGENT_IDENTITY
        egress = None
        if settings.sandbox_network and run.session.sandbox != "none":
            egress = await agent.egress.access(settings.sandbox_host_ports)
        sandbox = Sandbox(
            sandbox_kind(run.session.sandbox),
            settings.sandbox_network,
            hidden=secret_paths(agent.config.data_dir, settings.sandbox_hidden_paths),
            env=scrubbed_env(os.environ, set(self.env), identity),
            read_only=_git_dirs(Path(project.path)),
            egress=egress,
        )
        toolbox = TICKET.toolbox(
            ToolContext(
                worktree=worktree,
                sandbox=sandbox,
                knowledge=ServiceKnowledge(agent.tickets, agent.comments, agent.db, project),
                bash_timeout_s=float(settings.bash_timeout_s),
            )
        )
        reasoning = prompts.reasoning(settings, ticket)
        system = await asyncio.to_thread(
            prompts.system_prompt, settings, ticket, toolbox, worktree, ticket.branch or ""
        )
        comments = await agent.comments.list(project.slug, ticket.number)
        first = prompts.first_message(project, ticket, comments, self.trigger, self.message)
        client = await agent.models.client(self.access)
        request = ModelRequest(
            model=run.session.model,
            max_tokens=settings.max_tokens,
            system=system,
            temperature=reasoning.temperature,
            thinking_budget=reasoning.thinking_budget,
        )
        loop = LoopJob(client, request, [{"role": "user", "content": first}], toolbox, first)
        # Watching begins as the agent starts work; the commit then looks at what changed.
        watching = asyncio.create_task(agent.worktrees.watch(project, ticket))
        try:
            summary = await loop.run(run)
            message = _commit_message(ticket, summary)
            watch = await _watch_of(watching)
            async with agent.repo_lock(project.path):
                result = await agent.worktrees.commit_work(
                    project, ticket, message, identity, watch
                )
        finally:
            await _stop_watching(watching)
        if result.sha:
            await run.recorder.commit(result.sha, message)
        if result.left_out:
            await run.recorder.error(_left_out_note(result.left_out))
        return summary

    async def _worktree(self, run: Run) -> Ticket:
        """Make (or find) the ticket's worktree, saying so as it goes."""
        await run.recorder.preparing("preparing the worktree")
        began = time.monotonic()
        ticket = await self.agent.make_worktree(self.project, self.ticket)
        ready = f"worktree ready in {time.monotonic() - began:.1f} s"
        await run.recorder.preparing(ready, done=True)
        return ticket

    async def started(self, run: Run) -> None:
        """The board shows the new session's state on the ticket before ``agent:started``."""
        tickets = self.agent.tickets
        tickets.publish_updated(self.project, await tickets.get_by_id(self.ticket.id))

    async def ended(self, run: Run, session: AgentSession) -> None:
        """A completed run puts the ticket in review (unless it was closed meanwhile); any end
        shows the ticket's new state."""
        tickets = self.agent.tickets
        completed = session.status is SessionStatus.COMPLETED
        if not completed or await tickets.react(self.ticket.id, Action.AGENT_COMPLETES) is None:
            tickets.publish_updated(self.project, await tickets.get_by_id(self.ticket.id))


def _git_dirs(repo: Path) -> tuple[Path, ...]:
    """The repository's git dir, which a linked worktree reads (its refs, objects and its own
    gitdir) and which only the server writes to: its hooks and config run on the host later."""
    git_dir = repo / ".git"
    return (git_dir,) if git_dir.is_dir() else ()


def _left_out_note(left_out: tuple[LeftOut, ...]) -> str:
    files = "; ".join(item.describe() for item in left_out)
    return f"Left out of the commit, still only in the worktree: {files}"


async def _watch_of(watching: asyncio.Task[ChangeWatch | None]) -> ChangeWatch | None:
    """The run's watch once made; None when it could not be (the commit then compares every
    file, as without one)."""
    try:
        return await asyncio.shield(watching)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.warning("watching the worktree failed; the commit compares every file", exc_info=True)
        return None


async def _stop_watching(watching: asyncio.Task[ChangeWatch | None]) -> None:
    """Close the run's watch, waiting for it to be made if it is still starting (its thread
    cannot be cancelled); if this wait is cancelled, it is closed when made."""
    try:
        watch = await asyncio.shield(watching)
    except asyncio.CancelledError:
        watching.add_done_callback(_close_when_made)
        raise
    except Exception:
        return  # nothing was made to close (``_watch_of`` said why)
    if watch is not None:
        await asyncio.to_thread(watch.close)


def _close_when_made(watching: asyncio.Task[ChangeWatch | None]) -> None:
    if not watching.cancelled() and watching.exception() is None:
        made = watching.result()
        if made is not None:
            made.close()


def _commit_message(ticket: Ticket, summary: str) -> str:
    subject = work_subject(ticket.title, ticket.number, SUBJECT_MAX_CHARS)
    return f"{subject}\n\n{summary.strip()}\n" if summary.strip() else f"{subject}\n"
