"""The agent runtime: one asyncio task per running session, registered as ``services.agent``.

It checks a start (409 when one runs, 429 above ``max_concurrent_agents``, 400 without an API key),
prepares the worktree, records the session, and runs the loop in a background task that outlives
the request. Stop and shutdown cancel that task: the running tool's process group is killed on
the way out, and the session ends ``stopped`` (or ``interrupted`` when the server goes down). On
start-up, sessions a dead server left ``running`` become ``interrupted``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from codality_server.domain.errors import Conflict, InvalidInput, RateLimited
from codality_server.domain.events import project_channel, ticket_channel
from codality_server.domain.projects import Project
from codality_server.domain.sessions import AgentSession, SessionStatus, Trigger, session_cost
from codality_server.domain.tickets import Ticket, TicketStatus
from codality_server.domain.users import User
from codality_server.git.worktrees import branch_name, commit_all, create_worktree
from codality_server.services.base import Service

from . import prompts
from .knowledge import ServiceKnowledge
from .loop import AgentLoop, Inbox, MessageMode, ModelConfig, ModelFailure
from .sandbox import Sandbox, choose_sandbox, sandbox_kind, scrubbed_env
from .tools import Toolbox, ToolContext

if TYPE_CHECKING:
    from codality_server.services import Services

log = logging.getLogger("codality.agent")

MISSING_KEY = "ANTHROPIC_API_KEY is not set; run `codality settings env-set ANTHROPIC_API_KEY`"
AGENT_IDENTITY = ("Codality Agent", "agent@codality.invalid")
STOP_WAIT_S = 5.0


@dataclass
class Run:
    """A session in progress: its task, its inbox and how it is being ended."""

    session: AgentSession
    project: Project
    ticket: Ticket
    inbox: Inbox = field(default_factory=Inbox)
    task: asyncio.Task[None] | None = None
    end_as: SessionStatus = SessionStatus.STOPPED

    @property
    def channels(self) -> tuple[str, str]:
        return ticket_channel(self.ticket.id), project_channel(self.project.id)


class Recorder:
    """The loop's ``emit``: everything goes to the bus and to the transcript.

    A text or thinking block is stored while it streams: its row is written at the first delta
    and rewritten at most every ``FLUSH_S`` and once more, whole, when the block ends, so a crash
    mid-block keeps what viewers had already seen (up to the last flush).
    """

    DELTAS: ClassVar[dict[str, str]] = {"text_delta": "text", "thinking_delta": "thinking"}
    BLOCK_ENDS = frozenset(DELTAS.values())
    FLUSH_S = 0.25

    def __init__(self, runtime: AgentRuntime, run: Run, price: dict[str, float] | None) -> None:
        self.runtime = runtime
        self.run = run
        self.price = price
        self._block_kind: str | None = None
        self._block_id: int | None = None
        self._block_text = ""
        self._flushed_at = 0.0

    async def __call__(self, kind: str, data: dict[str, Any]) -> None:
        # Writes are shielded: a stop may cancel the session at any await, and a transaction cut
        # off half-way would leave the single writer connection unusable for everyone.
        sessions = self.runtime.services.agent_sessions
        session_id = self.run.session.id
        if kind == "usage":
            tokens_in, tokens_out = data["tokens_in"], data["tokens_out"]
            cost = session_cost(tokens_in, tokens_out, self.price)
            await asyncio.shield(sessions.set_usage(session_id, tokens_in, tokens_out, cost))
            return
        if kind in self.DELTAS:
            self.runtime.bus.publish(f"agent:{kind}", self.run.channels, data)
            await self._grow(self.DELTAS[kind], data["text"])
            return
        if kind in self.BLOCK_ENDS:
            await self._grow(kind, "", whole=data["text"])
            return
        self.runtime.bus.publish(f"agent:{kind}", self.run.channels, data)
        stored = {k: v for k, v in data.items() if k != "session_id"}
        await asyncio.shield(sessions.append(session_id, kind, stored))

    async def _grow(self, kind: str, delta: str, whole: str | None = None) -> None:
        """Add to the streaming block (``whole`` ends it with its final text)."""
        if kind != self._block_kind:
            self._block_kind, self._block_id, self._block_text = kind, None, ""
        self._block_text = whole if whole is not None else self._block_text + delta
        now = time.monotonic()
        if whole is None and self._block_id is not None and now - self._flushed_at < self.FLUSH_S:
            return
        sessions = self.runtime.services.agent_sessions
        data = {"text": self._block_text}
        if self._block_id is None:
            self._block_id = await asyncio.shield(sessions.append(self.run.session.id, kind, data))
        else:
            await asyncio.shield(sessions.rewrite(self._block_id, data))
        self._flushed_at = now
        if whole is not None:
            self._block_kind, self._block_id, self._block_text = None, None, ""


class AgentRuntime(Service):
    """Start, steer, stop and supervise agent sessions."""

    retry_backoff_s = 1.0

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self._runs: dict[int, Run] = {}

    # --- queries ------------------------------------------------------------------------------

    def is_busy(self, ticket_id: int) -> bool:
        """Whether a session runs on the ticket or is being set up for it."""
        return ticket_id in self._runs

    def is_running(self, ticket_id: int) -> bool:
        """Whether a session runs on the ticket (one still being prepared does not count)."""
        run = self._runs.get(ticket_id)
        return run is not None and run.task is not None

    async def status(self, slug: str, number: int) -> dict[str, Any]:
        """Whether an agent runs on the ticket, its current or last session, and every session."""
        _, ticket = await self.services.tickets.get(slug, number)
        sessions = [s.view() for s in await self.services.agent_sessions.for_ticket(ticket.id)]
        return {
            "running": self.is_running(ticket.id),
            "session": sessions[0] if sessions else None,
            "sessions": sessions,
        }

    async def session(self, slug: str, number: int, session_id: int) -> dict[str, Any]:
        _, ticket = await self.services.tickets.get(slug, number)
        return await self.services.agent_sessions.with_transcript(ticket.id, session_id)

    # --- lifecycle ----------------------------------------------------------------------------

    async def recover(self) -> None:
        """At start-up: sessions a dead server left ``running`` become ``interrupted``."""
        count = await self.services.agent_sessions.interrupt_running()
        if count:
            log.warning("marked %d agent session(s) interrupted after a restart", count)

    async def start(
        self,
        slug: str,
        number: int,
        user: User | None,
        trigger: str = Trigger.MANUAL.value,
        message: str | None = None,
        model: str | None = None,
    ) -> dict[str, Any]:
        """Start the agent on a ticket; returns the new session's view at once."""
        trigger = Trigger(trigger).value
        project, ticket = await self.services.tickets.get(slug, number)
        self._check_can_start(ticket)
        settings = await self.services.settings.get_all()
        env = await self.services.settings.env_values()
        api_key = env.get("ANTHROPIC_API_KEY") or ""
        if not api_key.strip():
            raise InvalidInput(MISSING_KEY, field="ANTHROPIC_API_KEY")
        if model is not None and not model.strip():
            raise InvalidInput("model: must not be empty", field="model")
        self._check_can_start(ticket)
        if len(self._runs) >= settings["max_concurrent_agents"]:
            raise RateLimited(
                f"{len(self._runs)} agents are running already (max_concurrent_agents = "
                f"{settings['max_concurrent_agents']}); stop one or wait",
                retry_after=30,
            )
        placeholder = Run(_placeholder_session(ticket.id), project, ticket)
        self._runs[ticket.id] = placeholder  # reserve the slot before the next await
        try:
            run = await self._prepare(project, ticket, user, trigger, settings, env, model)
        except BaseException:
            self._runs.pop(ticket.id, None)
            raise
        self._runs[ticket.id] = run
        started = {**run.session.view(), "session_id": run.session.id}
        self.bus.publish("agent:started", run.channels, started)
        context = _Context(settings, env, user, trigger, message)
        run.task = asyncio.create_task(self._supervise(run, context), name=f"agent-{ticket.id}")
        return run.session.view()

    async def stop(self, slug: str, number: int) -> dict[str, Any]:
        """Stop the running agent: its tool's process group is killed; the session ``stopped``."""
        _, ticket = await self.services.tickets.get(slug, number)
        run = self._runs.get(ticket.id)
        if run is None or run.task is None:
            raise Conflict(f"no agent is running on ticket #{number}")
        await self._end(run, SessionStatus.STOPPED)
        sessions = await self.services.agent_sessions.for_ticket(ticket.id)
        return next(s.view() for s in sessions if s.id == run.session.id)

    async def shutdown(self) -> None:
        """Server shutdown: every running session ends ``interrupted``; worktrees stay."""
        await asyncio.gather(
            *(self._end(run, SessionStatus.INTERRUPTED) for run in list(self._runs.values()))
        )

    async def deliver_message(
        self, ticket_id: int, text: str, mode: MessageMode = "steer", source: str = "user"
    ) -> dict[str, Any]:
        """Hand a message to the running agent (``steer``: with the next tool results;
        ``queue``: when it ends its turn) and publish it as ``agent:user_message``."""
        if mode not in ("steer", "queue"):
            raise InvalidInput(f"mode: {mode!r} is not one of steer, queue", field="mode")
        if not text.strip():
            raise InvalidInput("message: must not be empty", field="message")
        run = self._runs.get(ticket_id)
        if run is None or run.task is None:
            raise Conflict("no agent is running on this ticket")
        run.inbox.put(text, mode)
        data = {"session_id": run.session.id, "text": text, "mode": mode, "source": source}
        self.bus.publish("agent:user_message", run.channels, data)
        await self.services.agent_sessions.append(
            run.session.id, "user_message", {k: v for k, v in data.items() if k != "session_id"}
        )
        return {"delivered": True, "mode": mode, "session_id": run.session.id}

    async def message(self, slug: str, number: int, text: str, mode: MessageMode) -> dict[str, Any]:
        _, ticket = await self.services.tickets.get(slug, number)
        if not self.is_running(ticket.id):
            raise Conflict(f"no agent is running on ticket #{number}")
        return await self.deliver_message(ticket.id, text, mode, "user")

    # --- internals ----------------------------------------------------------------------------

    def _check_can_start(self, ticket: Ticket) -> None:
        if ticket.id in self._runs:
            raise Conflict(f"an agent is already running on ticket #{ticket.number}")
        self._check_status(ticket)

    @staticmethod
    def _check_status(ticket: Ticket) -> None:
        if ticket.status in (TicketStatus.DONE, TicketStatus.CANCELLED):
            raise Conflict(
                f"ticket #{ticket.number} is {ticket.status.value}; reopen it before starting "
                "the agent"
            )

    async def _prepare(
        self,
        project: Project,
        ticket: Ticket,
        user: User | None,
        trigger: str,
        settings: dict[str, Any],
        env: dict[str, str],
        model: str | None,
    ) -> Run:
        """Worktree, ticket status and session row for a new run."""
        worktree = Path(
            ticket.worktree_path or self.config.worktrees_dir / project.slug / str(ticket.number)
        )
        branch = ticket.branch or branch_name(ticket.number, ticket.title)
        sandbox = await choose_sandbox(settings["sandbox"], settings["sandbox_network"])
        async with self.services.repo_lock(project.path):
            # A merge or discard may have finished while this start waited for the lock.
            self._check_status(await self.services.tickets.get_by_id(ticket.id))
            await asyncio.to_thread(
                create_worktree, Path(project.path), worktree, branch, project.default_branch
            )
        ticket = await self.services.tickets.set_worktree(ticket.id, branch, str(worktree))
        ticket = await self.services.tickets.set_status(ticket.id, TicketStatus.IN_PROGRESS)
        session = await self.services.agent_sessions.create(
            ticket.id, trigger, model or settings["model"], sandbox, user.id if user else None
        )
        ticket = await self.services.tickets.get_by_id(ticket.id)
        self.services.tickets.publish_updated(project, ticket)
        return Run(session, project, ticket)

    async def _end(self, run: Run, status: SessionStatus) -> None:
        run.end_as = status
        if run.task is not None and not run.task.done():
            run.task.cancel()
            await asyncio.wait({run.task}, timeout=STOP_WAIT_S)

    async def _supervise(self, run: Run, context: _Context) -> None:
        """Run the loop to its end and record how it ended; never lets an exception escape."""
        status, summary, error = SessionStatus.FAILED, None, None
        try:
            timeout = context.settings["agent_timeout_s"]
            async with asyncio.timeout(timeout):
                summary = await self._work(run, context)
            status = SessionStatus.COMPLETED
        except TimeoutError:
            status, error = (
                SessionStatus.TIMED_OUT,
                (f"the session ran longer than agent_timeout_s ({timeout} s)"),
            )
        except asyncio.CancelledError:
            status = run.end_as
            error = "stopped by a user" if status is SessionStatus.STOPPED else None
        except ModelFailure as exc:
            error = str(exc)
        except Exception as exc:
            log.exception("agent session %d crashed", run.session.id)
            error = f"internal error: {type(exc).__name__}: {exc}"
        try:
            await self._finish(run, status, summary, error)
        except Exception:
            log.exception("recording the end of agent session %d failed", run.session.id)
        finally:
            self._runs.pop(run.ticket.id, None)

    async def _work(self, run: Run, context: _Context) -> str:
        """Build the prompt and tools, run the loop, commit what is left; returns the summary."""
        settings, project, ticket = context.settings, run.project, run.ticket
        worktree = Path(ticket.worktree_path or "")
        identity = context.user.git_identity if context.user else AGENT_IDENTITY
        secret_names = set(context.env)
        sandbox = Sandbox(
            sandbox_kind(run.session.sandbox),
            settings["sandbox_network"],
            writable=_git_dirs(Path(project.path)),
            hidden=(self.config.data_dir,),
            env=scrubbed_env(os.environ, secret_names, identity),
        )
        toolbox = Toolbox(
            ToolContext(
                worktree=worktree,
                sandbox=sandbox,
                knowledge=ServiceKnowledge(self.services, project),
                bash_timeout_s=float(settings["bash_timeout_s"]),
            )
        )
        max_tokens = settings["max_tokens"]
        reasoning = prompts.reasoning(settings, ticket, max_tokens)
        config = ModelConfig(
            api_key=context.env["ANTHROPIC_API_KEY"],
            base_url=context.env.get("ANTHROPIC_BASE_URL") or None,
            model=run.session.model,
            max_tokens=max_tokens,
            temperature=reasoning.temperature,
            thinking_budget=reasoning.thinking_budget,
            backoff_s=self.retry_backoff_s,
        )
        system = await asyncio.to_thread(
            prompts.system_prompt,
            settings,
            ticket,
            toolbox.describe(),
            worktree,
            ticket.branch or "",
        )
        comments = await self.services.comments.list(project.slug, ticket.number)
        first = prompts.first_message(project, ticket, comments, context.trigger, context.message)
        recorder = Recorder(self, run, settings["prices"].get(run.session.model))
        await recorder("prompt", {"text": first})
        loop = AgentLoop(config, system, toolbox, recorder, run.inbox, run.session.id)
        result = await loop.run(first)
        message = _commit_message(ticket, result.summary)
        async with self.services.repo_lock(project.path):
            sha = await asyncio.to_thread(commit_all, worktree, message, identity)
        if sha:
            await recorder("commit", {"sha": sha, "message": message})
        return result.summary

    async def _finish(
        self, run: Run, status: SessionStatus, summary: str | None, error: str | None
    ) -> None:
        sessions = self.services.agent_sessions
        if error:
            self.bus.publish(
                "agent:error", run.channels, {"session_id": run.session.id, "message": error}
            )
            await sessions.append(run.session.id, "error", {"message": error})
        done = await sessions.finish(run.session.id, status, summary or None, error)
        if status is SessionStatus.COMPLETED:
            await self.services.tickets.set_status(run.ticket.id, TicketStatus.IN_REVIEW)
        else:
            ticket = await self.services.tickets.get_by_id(run.ticket.id)
            self.services.tickets.publish_updated(run.project, ticket)
        usage = {
            "tokens_in": done.tokens_in,
            "tokens_out": done.tokens_out,
            "cost_usd": done.cost_usd,
        }
        self.bus.publish(
            "agent:stopped", run.channels, {**done.view(), "session_id": done.id, "usage": usage}
        )


@dataclass(frozen=True)
class _Context:
    settings: dict[str, Any]
    env: dict[str, str]
    user: User | None
    trigger: str
    message: str | None


def _placeholder_session(ticket_id: int) -> AgentSession:
    return AgentSession(
        0,
        ticket_id,
        "manual",
        SessionStatus.RUNNING,
        "",
        "none",
        0,
        0,
        0.0,
        None,
        None,
        None,
        "",
        None,
    )


def _git_dirs(repo: Path) -> tuple[Path, ...]:
    """The repository's git dir, which a linked worktree's commits write to."""
    git_dir = repo / ".git"
    return (git_dir,) if git_dir.is_dir() else ()


def _commit_message(ticket: Ticket, summary: str) -> str:
    subject = f"#{ticket.number}: {ticket.title}"
    if len(subject) > 72:
        subject = subject[:71] + "…"
    return f"{subject}\n\n{summary.strip()}\n" if summary.strip() else f"{subject}\n"
