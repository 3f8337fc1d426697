"""The supervisor: every agent session, of any kind, runs under it (``services.supervisor``).

It owns what all sessions share: one task per session, the inbox people write to, stop, the
timeout, the concurrency cap, the recorder (events and transcript), the session's row from start
to end, and telling whoever waits that a session ended. What a session *does* is its client's
``Job``: the ticket agent's job prepares a worktree, runs the loop and commits
(``services/ticket_agent.py``); ``LoopJob`` just runs the loop with a prompt and a tool set.

How a model-driven feature plugs in::

    client = await services.models.client()              # 400 when no key is set
    job = LoopJob(client, ModelRequest(model, max_tokens, system=...), history, kind.toolbox(ctx))
    session = await services.supervisor.start(
        SessionSpec(Owner(OwnerKind.PLAN, plan.id), kind, channels=(project_channel(pid),),
                    model=model, started_by=user.id),
        job,
    )
    ended = await services.supervisor.wait(session.id)   # or: supervisor.on_end(hook)
    job.result.messages                                  # the history, to continue later

A client with set-up to do before the session exists (the ticket agent's worktree) takes a
``claim`` first, so the owner's slot and the cap are held across its awaits, then launches.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from codality_server.agent.kinds import AgentKind
from codality_server.agent.loop import AgentLoop, BudgetReached, Inbox, LoopResult, MessageMode
from codality_server.agent.model import Message, ModelClient, ModelFailure, ModelRequest
from codality_server.agent.tools import Toolbox
from codality_server.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    RateLimited,
    Unavailable,
)
from codality_server.domain.events import AgentStarted, AgentStopped
from codality_server.domain.sessions import AgentSession, Budget, Owner, SessionStatus, Trigger

from .base import Core, Service
from .recorder import AGENT_EVENTS, Recorder, SessionBlocks, SessionEvents

if TYPE_CHECKING:
    from .agent_sessions import AgentSessionService
    from .settings import SettingsService

log = logging.getLogger("codality.agent")

STOP_WAIT_S = 5.0
USER_STOPPED = "stopped by a user"
HOOK_WAIT_S = 5.0

SessionEndHook = Callable[[AgentSession], Awaitable[None]]


@dataclass(frozen=True)
class SessionSpec:
    """What to record about a new session and how long it may run."""

    owner: Owner
    kind: AgentKind
    channels: tuple[str, ...]
    model: str
    trigger: str = Trigger.MANUAL.value
    sandbox: str = "none"
    started_by: int | None = None
    #: None: the ``agent_timeout_s`` setting.
    timeout_s: float | None = None
    #: The events its loop publishes (``agent:*``, or a feature's own such as ``discover:*``).
    events: SessionEvents = AGENT_EVENTS
    #: Limits of its own (``ticket start --max-turns``); what it leaves None, the settings'.
    budget: Budget = field(default_factory=Budget)


class Job(Protocol):
    """The work of one session, given by the client that starts it."""

    async def started(self, run: Run) -> None:
        """The session's row exists; called before ``agent:started`` is published."""
        ...

    async def run(self, run: Run) -> str:
        """Do the work; returns the summary. Report through ``run.recorder``; read
        ``run.inbox``. Raising ``ModelFailure`` fails the session with its message."""
        ...

    async def ended(self, run: Run, session: AgentSession) -> None:
        """The session's row is final (``session``); called before ``agent:stopped``."""
        ...


@dataclass
class LoopJob:
    """The plain job: the model ↔ tool loop on a history with a kind's tools. After the session,
    ``result`` holds the summary, the history it ended with and the usage."""

    client: ModelClient
    request: ModelRequest
    messages: list[Message]
    toolbox: Toolbox
    #: Stored as the transcript's ``prompt`` block first, when given.
    prompt: str | None = None
    result: LoopResult | None = None

    async def run(self, run: Run) -> str:
        if self.prompt is not None:
            await run.recorder.prompt(self.prompt)
        async with self.client:
            loop = AgentLoop(
                self.client, self.request, self.toolbox, run.recorder, run.inbox, run.budget
            )
            self.result = await loop.run(self.messages)
        return self.result.summary

    async def started(self, run: Run) -> None:
        return None

    async def ended(self, run: Run, session: AgentSession) -> None:
        return None


@dataclass
class Run:
    """A session in progress: its row, task, inbox and recorder, and how it is being ended."""

    session: AgentSession
    spec: SessionSpec
    recorder: Recorder
    done: asyncio.Future[AgentSession]
    #: Turns and dollars the loop may spend: the spec's own over the settings'.
    budget: Budget = field(default_factory=Budget)
    inbox: Inbox = field(default_factory=Inbox)
    task: asyncio.Task[None] | None = None
    end_as: SessionStatus = SessionStatus.STOPPED

    @property
    def channels(self) -> tuple[str, ...]:
        return self.spec.channels


@dataclass
class Claim:
    """An owner's slot, held while its client sets the session up; ``launch`` starts it."""

    supervisor: Supervisor
    owner: Owner
    launched: AgentSession | None = None

    async def launch(self, spec: SessionSpec, job: Job) -> AgentSession:
        if spec.owner != self.owner:
            raise ValueError(f"a claim for {self.owner} cannot launch a session of {spec.owner}")
        self.launched = await self.supervisor._launch(spec, job)
        return self.launched


class Supervisor(Service):
    """Start, steer, stop, time out and await sessions of any kind."""

    def __init__(
        self, core: Core, *, settings: SettingsService, agent_sessions: AgentSessionService
    ) -> None:
        super().__init__(core)
        self.settings = settings
        self.agent_sessions = agent_sessions
        self._slots: dict[Owner, Run | None] = {}  # None: claimed, still being set up
        self._capped: set[Owner] = set()
        self._hooks: list[SessionEndHook] = []
        self._hook_tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    # --- queries ------------------------------------------------------------------------------

    def is_busy(self, owner: Owner) -> bool:
        """Whether a session runs for the owner or is being set up for it."""
        return owner in self._slots

    async def transcript(self, owner: Owner, session_id: int) -> dict[str, Any]:
        """One session of the owner with every stored block, and ``last_event_id``: the bus id
        read just before the transcript, so a viewer that follows the events after it misses
        nothing (it may see a block twice, never lose one). A running session's streaming block
        is stored first, with every delta published up to then."""
        last_event_id = self.bus.last_id
        run = self.running(owner)
        if run is not None and run.session.id == session_id:
            await run.recorder.store_open_block()
        return await self.agent_sessions.with_transcript(owner, session_id, last_event_id)

    def running(self, owner: Owner) -> Run | None:
        """The owner's running session (one still being set up does not count)."""
        run = self._slots.get(owner)
        return run if run is not None and run.task is not None else None

    # --- starting -----------------------------------------------------------------------------

    @asynccontextmanager
    async def claim(
        self, owner: Owner, *, limit: int | None = None, busy: str | None = None
    ) -> AsyncIterator[Claim]:
        """Hold ``owner``'s slot (409 with ``busy`` when taken) and, with ``limit``, a place
        under that cap of capped sessions (429 above it); released unless launched."""
        if self._closing:
            raise Unavailable("the server is shutting down")
        if owner in self._slots:
            raise Conflict(busy or f"a session is already running for {owner}")
        if limit is not None and len(self._capped) >= limit:
            raise RateLimited(
                f"{len(self._capped)} agents are running already (max_concurrent_agents = "
                f"{limit}); stop one or wait",
                retry_after=30,
            )
        self._slots[owner] = None
        if limit is not None:
            self._capped.add(owner)
        claim = Claim(self, owner)
        try:
            yield claim
        finally:
            if claim.launched is None:
                self._release(owner)

    async def start(
        self, spec: SessionSpec, job: Job, *, limit: int | None = None, busy: str | None = None
    ) -> AgentSession:
        """Claim and launch at once, for clients with nothing to set up first."""
        async with self.claim(spec.owner, limit=limit, busy=busy) as claim:
            return await claim.launch(spec, job)

    async def _launch(self, spec: SessionSpec, job: Job) -> AgentSession:
        settings = await self.settings.current()
        timeout = spec.timeout_s if spec.timeout_s is not None else settings.agent_timeout_s
        budget = spec.budget.over(Budget(settings.max_turns_per_run, settings.max_cost_per_run_usd))
        session = await self.agent_sessions.create(
            spec.owner,
            spec.kind.name,
            spec.channels,
            spec.trigger,
            spec.model,
            spec.sandbox,
            spec.started_by,
        )
        blocks = SessionBlocks(self.agent_sessions, session.id)
        recorder = Recorder(session.id, spec.channels, self.bus, blocks, spec.events)
        done: asyncio.Future[AgentSession] = asyncio.get_running_loop().create_future()
        run = Run(session, replace(spec, timeout_s=timeout), recorder, done, budget)
        self._slots[spec.owner] = run
        try:
            await job.started(run)
        except Exception:  # the row exists: the session is announced and supervised regardless
            log.exception("the start of agent session %d: the client failed", session.id)
        self.bus.publish(
            AgentStarted.of({**session.view(), "session_id": session.id}), run.channels
        )
        run.task = asyncio.create_task(
            self._supervise(run, job, float(timeout)), name=f"session-{session.id}"
        )
        return session

    # --- steering and stopping ----------------------------------------------------------------

    async def deliver(
        self,
        owner: Owner,
        text: str,
        mode: MessageMode = "steer",
        source: str = "user",
        idle: str | None = None,
    ) -> dict[str, Any]:
        """Hand a message to the owner's running session (``steer``: with the next tool results;
        ``queue``: when it ends its turn), published as ``agent:user_message`` and stored;
        409 with ``idle`` when none runs."""
        if mode not in ("steer", "queue"):
            raise InvalidInput(f"mode: {mode!r} is not one of steer, queue", field="mode")
        if not text.strip():
            raise InvalidInput("message: must not be empty", field="message")
        run = self.running(owner)
        if run is None:
            raise Conflict(idle or f"no agent is running for {owner}")
        run.inbox.put(text, mode)
        await run.recorder.user_message(text, mode, source)
        return {"delivered": True, "mode": mode, "session_id": run.session.id}

    async def stop(
        self, owner: Owner, status: SessionStatus = SessionStatus.STOPPED
    ) -> AgentSession:
        """End the owner's session (its tool's process group is killed); returns its row."""
        run = self.running(owner)
        if run is None:
            raise Conflict(f"no agent is running for {owner}")
        await self._end(run, status)
        return await self.agent_sessions.get(run.session.id)

    async def shutdown(self) -> None:
        """Server shutdown: every running session ends ``interrupted``."""
        self._closing = True
        runs = [run for run in self._slots.values() if run is not None]
        await asyncio.gather(*(self._end(run, SessionStatus.INTERRUPTED) for run in runs))
        if self._hook_tasks:
            await asyncio.wait(set(self._hook_tasks), timeout=HOOK_WAIT_S)

    async def _end(self, run: Run, status: SessionStatus) -> None:
        run.end_as = status
        if run.task is not None and not run.task.done():
            run.task.cancel()
            await asyncio.wait({run.task}, timeout=STOP_WAIT_S)

    # --- completion ---------------------------------------------------------------------------

    async def wait(self, session_id: int) -> AgentSession:
        """The session once it has ended (at once when it already has)."""
        for run in self._slots.values():
            if run is not None and run.session.id == session_id:
                return await asyncio.shield(run.done)
        return await self.agent_sessions.get(session_id)

    def on_end(self, hook: SessionEndHook) -> Callable[[], None]:
        """Call ``hook(session)`` after every session's end is recorded and announced, including
        sessions found interrupted at start-up. Returns a function that unsubscribes."""
        self._hooks.append(hook)
        return lambda: self._hooks.remove(hook) if hook in self._hooks else None

    # --- start-up -----------------------------------------------------------------------------

    async def recover(self) -> None:
        """Sessions a dead server left ``running`` become ``interrupted``, and are announced
        (``agent:stopped`` on their channels, the end hooks) so watchers and queues move on."""
        ended = await self.agent_sessions.interrupt_running()
        if ended:
            log.warning("marked %d agent session(s) interrupted after a restart", len(ended))
        for session in ended:
            self._publish_stopped(session)
            self._call_hooks(session)

    # --- internals ----------------------------------------------------------------------------

    def _release(self, owner: Owner) -> None:
        self._slots.pop(owner, None)
        self._capped.discard(owner)

    async def _supervise(self, run: Run, job: Job, timeout: float) -> None:
        """Run the job to its end and record how it ended; never lets an exception escape."""
        status, summary, error = SessionStatus.FAILED, None, None
        try:
            async with asyncio.timeout(timeout) as deadline:
                summary = await job.run(run)
            status = SessionStatus.COMPLETED
        except asyncio.CancelledError:
            status = run.end_as
            error = USER_STOPPED if status is SessionStatus.STOPPED else None
        except ModelFailure as exc:
            error = str(exc)
        except BudgetReached as exc:
            status, error = SessionStatus.STOPPED, str(exc)
        except TimeoutError as exc:
            if deadline.expired():
                status = SessionStatus.TIMED_OUT
                error = f"the session ran longer than agent_timeout_s ({timeout:g} s)"
            else:  # a timeout inside the work (a network call), not the session's own
                log.exception("agent session %d failed", run.session.id)
                error = f"internal error: {type(exc).__name__}: {exc}"
        except DomainError as exc:  # an expected refusal (the ticket was closed meanwhile)
            error = exc.message
        except Exception as exc:
            log.exception("agent session %d crashed", run.session.id)
            error = f"internal error: {type(exc).__name__}: {exc}"
        ended = replace(run.session, status=status, summary=summary, error=error)
        try:
            await run.recorder.flush()
            if error:
                await run.recorder.error(error)
            ended = await self.agent_sessions.finish(run.session.id, status, summary or None, error)
            await job.ended(run, ended)
        except Exception:
            log.exception("recording the end of agent session %d failed", run.session.id)
        finally:
            self._publish_stopped(ended)
            self._release(run.spec.owner)
            run.done.set_result(ended)
            self._call_hooks(ended)

    def _publish_stopped(self, session: AgentSession) -> None:
        usage = session.usage()
        stopped = AgentStopped.of({**session.view(), "session_id": session.id, "usage": usage})
        self.bus.publish(stopped, session.channels)

    def _call_hooks(self, session: AgentSession) -> None:
        """The end hooks, in a task of their own so that a slow one never holds up a stop."""
        if not self._hooks:
            return
        task = asyncio.create_task(self._run_hooks(session, list(self._hooks)))
        self._hook_tasks.add(task)
        task.add_done_callback(self._hook_tasks.discard)

    async def _run_hooks(self, session: AgentSession, hooks: list[SessionEndHook]) -> None:
        for hook in hooks:
            try:
                await hook(session)
            except Exception:
                log.exception("a hook on the end of agent session %d failed", session.id)
