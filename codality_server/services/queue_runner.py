"""Running work queues: start, cancel and release them, and act on each agent session's end.

The runner is a client of the supervisor. Each item runs the ticket agent (``services.agent``,
trigger ``queue``); every session's end reaches ``session_ended`` (a subscriber declared in
``Services``), which marks the item and starts what may run next. A completed session makes
its item ``done`` (merged first with ``merge_each``) and the queue advances; any other end
fails the item and pauses the queue.

State lives only in the database and each step is one transaction, so a server killed at any
moment leaves a queue that start-up can read: an item whose agent was running (or starting) is
failed and its queue paused, nothing runs twice by surprise; a queue that died between two items
simply goes on (``recover``). One lock per queue serialises scheduling, edits, cancel and
release, so a session's end never races the start of the next item.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from codality_server.db import queues as db_queues
from codality_server.db import users as db_users
from codality_server.domain import queues as rules
from codality_server.domain.errors import Conflict, DomainError, RateLimited, Unavailable
from codality_server.domain.events import (
    Payload,
    QueueAdvanced,
    QueueCancelled,
    QueueCompleted,
    QueuePaused,
    QueueStarted,
    QueueUpdated,
    project_channel,
    queue_channel,
    ticket_channel,
)
from codality_server.domain.queues import ItemStatus, QueueItem, QueueStatus, WorkQueue
from codality_server.domain.sessions import (
    AgentSession,
    Budget,
    Owner,
    SessionStatus,
    Trigger,
    dollars,
    turns_text,
)
from codality_server.domain.tickets import TicketStatus
from codality_server.domain.users import User

from .base import Core, Service, now_iso

if TYPE_CHECKING:
    from .agent_sessions import AgentSessionService
    from .projects import ProjectService
    from .queues import QueueService
    from .settings import SettingsService
    from .supervisor import Supervisor
    from .ticket_agent import TicketAgentService
    from .tickets import TicketService
    from .worktrees import WorktreeService

log = logging.getLogger("codality.queues")

CANCELLED_ITEM = "stopped: the queue was cancelled"
# A ticket in one of these needs no agent: its item is skipped.
CLOSED_TICKETS = frozenset({TicketStatus.DONE.value, TicketStatus.CANCELLED.value})


class QueueRunner(Service):
    """Start, advance, pause, complete, cancel and release work queues."""

    def __init__(
        self,
        core: Core,
        *,
        settings: SettingsService,
        projects: ProjectService,
        tickets: TicketService,
        agent_sessions: AgentSessionService,
        supervisor: Supervisor,
        agent: TicketAgentService,
        worktrees: WorktreeService,
        queues: QueueService,
    ) -> None:
        super().__init__(core)
        self.settings = settings
        self.projects = projects
        self.tickets = tickets
        self.agent_sessions = agent_sessions
        self.supervisor = supervisor
        self.agent = agent
        self.worktrees = worktrees
        self.queues = queues
        # Running queues with nothing running that wait for a free agent slot.
        self._waiting: set[int] = set()
        # Worktrees being made ahead of their ticket's turn.
        self._preparing: set[asyncio.Task[None]] = set()

    # --- the user's verbs ---------------------------------------------------------------------

    async def start(self, slug: str, queue_id: int, user: User | None) -> WorkQueue:
        """Start a pending queue: its first runnable items' agents start now.

        Refused (409) when another running or paused queue holds one of its tickets, or when
        no pending ticket may run yet (a dependency is not done). When the first agent cannot
        start (no API key, the agent cap reached …) the queue stays pending and the error is
        the answer.
        """
        await self.queues.get(slug, queue_id)
        async with self.queues.lock(queue_id):
            queue = await self.queues.by_id(queue_id)
            rules.check_can_start(queue)
            dependencies = await db_queues.pending_dependencies(self.db.reader, queue.id)
            chosen, blocked = rules.next_items(queue, dependencies, queue.max_parallel)
            if not chosen:
                raise Conflict(f"queue {queue.name!r} cannot start: {blocked[0].reason}")
            now = now_iso()
            async with self.db.transaction() as conn:
                pending = [item.ticket_id for item in queue.pending_items()]
                await self.queues.check_free(conn, pending, queue.id)
                await db_queues.update_queue(
                    conn,
                    queue.id,
                    now,
                    status=QueueStatus.RUNNING,
                    reason=None,
                    started_by=user.id if user else None,
                    started_at=now,
                    ended_at=None,
                )
            try:
                await self._advance(queue.id, first=True)
            except DomainError:
                async with self.db.transaction() as conn:
                    await db_queues.update_queue(
                        conn, queue.id, now_iso(), status=QueueStatus.PENDING, started_at=None
                    )
                raise
            return await self.queues.by_id(queue.id)

    async def cancel(self, slug: str, queue_id: int) -> WorkQueue:
        """Cancel a running or paused queue; its running agents are stopped and their items wait
        again (pending, with why): a cancelled run is not a failed one, and is not counted so."""
        await self.queues.get(slug, queue_id)
        async with self.queues.lock(queue_id):
            queue = await self.queues.by_id(queue_id)
            rules.check_can_cancel(queue)
            self._waiting.discard(queue.id)
            async with self.db.transaction() as conn:
                await db_queues.update_queue(
                    conn,
                    queue.id,
                    now_iso(),
                    status=QueueStatus.CANCELLED,
                    reason="cancelled by a user",
                    ended_at=now_iso(),
                )
            stopped = queue.running_items()
            for item in stopped:
                # Its session may have ended meanwhile; the item waits again all the same.
                with contextlib.suppress(Conflict):
                    await self.supervisor.stop(Owner.ticket(item.ticket_id))
                async with self.db.transaction() as conn:
                    await db_queues.update_item(
                        conn,
                        item.id,
                        status=ItemStatus.PENDING,
                        error=CANCELLED_ITEM,
                        ended_at=now_iso(),
                    )
            queue = await self.queues.by_id(queue.id)
            self._announce(QueueCancelled, queue, stopped, reason="cancelled by a user")
            return queue

    async def release(self, slug: str, queue_id: int) -> WorkQueue:
        """A paused, cancelled or completed queue goes back to pending; every item that is not
        done is pending again (``start`` then runs them)."""
        await self.queues.get(slug, queue_id)
        async with self.queues.lock(queue_id):
            queue = await self.queues.by_id(queue_id)
            rules.check_can_release(queue)
            if queue.running_items():
                running = queue.running_items()[0]
                raise Conflict(
                    f"ticket #{running.ticket_number} of queue {queue.name!r} is still running;"
                    " wait for it to end or cancel the queue"
                )
            async with self.db.transaction() as conn:
                await db_queues.reset_unsettled_items(conn, queue.id)
                await db_queues.update_queue(
                    conn,
                    queue.id,
                    now_iso(),
                    status=QueueStatus.PENDING,
                    reason=None,
                    started_at=None,
                    ended_at=None,
                )
            queue = await self.queues.by_id(queue.id)
        self._announce(QueueUpdated, queue)
        return queue

    async def kick(self, queue_id: int) -> None:
        """Start what may run now (after an edit added tickets or raised ``max_parallel``)."""
        async with self.queues.lock(queue_id):
            await self._advance(queue_id)

    # --- start-up -----------------------------------------------------------------------------

    async def recover(self) -> None:
        """Queues a dead server left running: settle items whose session ended (interrupted
        ones fail and pause their queue), fail items whose agent was still starting, and let
        a queue that died between two items go on."""
        for queue in await db_queues.queues_with_status(self.db.reader, QueueStatus.RUNNING):
            try:
                async with self.queues.lock(queue.id):
                    await self._recover(queue.id)
            except Exception:
                log.exception("recovering work queue %d failed", queue.id)

    async def _recover(self, queue_id: int) -> None:
        queue = await self.queues.by_id(queue_id)
        for item in queue.running_items():
            if item.session_id is None:
                reason = f"#{item.ticket_number}: the server stopped while its agent was starting"
                await self._fail(queue, item, reason)
                await self._pause(queue.id, reason, item, None)
                continue
            session = await self.agent_sessions.get(item.session_id)
            if session.ended:
                await self._settle(queue.id, session)
        queue = await self.queues.by_id(queue_id)
        if queue.status is QueueStatus.RUNNING and not queue.running_items():
            log.warning("work queue %d goes on after a restart", queue.id)
            await self._advance(queue.id)

    # --- a session ended ----------------------------------------------------------------------

    async def session_ended(self, session: AgentSession) -> None:
        """The supervisor's end hook, for every session: a queue item's settles, and a free
        agent slot lets queues that waited for one go on."""
        ticket_id = session.ticket_id
        if ticket_id is not None:
            queue_id = await db_queues.queue_of_session(self.db.reader, session.id, ticket_id)
            if queue_id is not None:
                async with self.queues.lock(queue_id):
                    await self._settle(queue_id, session)
        for waiting in list(self._waiting):
            self._waiting.discard(waiting)
            async with self.queues.lock(waiting):
                await self._advance(waiting)

    async def _settle(self, queue_id: int, session: AgentSession) -> None:
        """What the end of an item's session means for the item and its queue (lock held)."""
        queue = await self.queues.by_id(queue_id)
        item = next((i for i in queue.items if i.session_id == session.id), None)
        if item is None or item.status is not ItemStatus.RUNNING:
            return  # settled already (cancel, recovery) or removed
        if session.status is SessionStatus.COMPLETED:
            problem = await self._merge(queue, item) if queue.merge_each else None
            if problem is None:
                async with self.db.transaction() as conn:
                    await db_queues.update_item(
                        conn, item.id, status=ItemStatus.DONE, ended_at=now_iso()
                    )
                await self._advance(queue.id, previous=item)
                return
            reason = f"#{item.ticket_number} completed but did not merge: {problem}"
        else:
            ended = session.status.value.replace("_", " ")
            reason = f"#{item.ticket_number} {ended}"
            if session.error:
                reason += f": {session.error}"
        await self._fail(queue, item, reason)
        if queue.status is QueueStatus.RUNNING:
            await self._pause(queue.id, reason, item, session)
        else:
            self._announce(QueueUpdated, await self.queues.by_id(queue.id))

    async def _merge(self, queue: WorkQueue, item: QueueItem) -> str | None:
        """Merge a completed item's ticket (``merge_each``); what went wrong, or None."""
        user = await self._user(queue.started_by)
        if user is None:
            return "the user who started the queue no longer exists"
        project = await self.projects.get_by_id(queue.project_id)
        try:
            await self.worktrees.merge(project.slug, item.ticket_number, user)
        except Conflict as exc:
            if exc.details.get("reason") == "no_changes":
                return None  # nothing to build on; the ticket stays in review
            conflicts = exc.details.get("conflicts")
            if isinstance(conflicts, list) and conflicts:
                return f"{exc.message} ({', '.join(map(str, conflicts))})"
            return exc.message
        except DomainError as exc:
            return exc.message
        return None

    # --- scheduling ---------------------------------------------------------------------------

    async def _advance(
        self, queue_id: int, first: bool = False, previous: QueueItem | None = None
    ) -> None:
        """Start what may run now; then complete, wait or pause the queue (lock held).

        ``first``: the queue is being started (an agent that cannot start is the caller's
        error). ``previous``: the item whose completion led here (``queue:advanced``).
        """
        blocked: list[rules.Blocked] = []
        announced = False
        while True:
            queue = await self.queues.by_id(queue_id)
            if queue.status is not QueueStatus.RUNNING:
                break
            slots = queue.max_parallel - len(queue.running_items())
            dependencies = await db_queues.pending_dependencies(self.db.reader, queue.id)
            chosen, blocked = rules.next_items(queue, dependencies, max(slots, 0))
            if not chosen:
                break
            item = chosen[0]
            if item.ticket_status in CLOSED_TICKETS:
                async with self.db.transaction() as conn:
                    await db_queues.update_item(
                        conn,
                        item.id,
                        status=ItemStatus.SKIPPED,
                        error=f"ticket #{item.ticket_number} is {item.ticket_status}",
                        ended_at=now_iso(),
                    )
                continue
            outcome = await self._start_item(queue, item, first)
            if outcome is None:
                return  # the queue paused
            if outcome == "stopping":
                return
            if outcome == "wait":
                break
            queue = await self.queues.by_id(queue_id)
            started = queue.item_for(item.ticket_id)
            if first:
                self._announce(QueueStarted, queue, [started] if started else [], session=outcome)
            else:
                self._announce(
                    QueueAdvanced,
                    queue,
                    [started] if started else [],
                    session=outcome,
                    previous=previous.view() if previous else None,
                )
            announced, first, previous = True, False, None
        queue = await self.queues.by_id(queue_id)
        if queue.status is not QueueStatus.RUNNING or queue.running_items():
            if not announced:
                self._announce(QueueUpdated, queue)
            if queue.status is QueueStatus.RUNNING:
                self._prepare_next(queue, blocked)
            return
        if queue.finished:
            await self._complete(queue, previous)
        elif queue.id in self._waiting:
            self._announce(QueueUpdated, queue)
        else:
            reason = blocked[0].reason if blocked else "no pending ticket can run"
            await self._pause(queue.id, reason, None, None)

    async def _start_item(
        self, queue: WorkQueue, item: QueueItem, first: bool
    ) -> dict[str, Any] | str | None:
        """Start the item's agent: its session's view, ``"wait"`` when no agent slot is free,
        ``"stopping"`` when the server is going down, None when the queue paused instead."""
        budget = await self._budget(queue)
        if isinstance(budget, str):
            await self._pause(queue.id, budget, None, None)
            return None
        async with self.db.transaction() as conn:
            await db_queues.update_item(
                conn,
                item.id,
                status=ItemStatus.RUNNING,
                session_id=None,
                error=None,
                started_at=now_iso(),
                ended_at=None,
            )
        project = await self.projects.get_by_id(queue.project_id)
        position = [i.id for i in queue.items].index(item.id) + 1
        note = (
            f"This run is ticket {position} of {len(queue.items)} in the work queue {queue.name!r}."
        )
        try:
            session = await self.agent.start(
                project.slug,
                item.ticket_number,
                await self._user(queue.started_by),
                trigger=Trigger.QUEUE.value,
                message=note,
                budget=budget,
            )
        except (RateLimited, Unavailable) as exc:
            await self._unstart(item)
            if first:
                raise
            if isinstance(exc, Unavailable):
                return "stopping"  # the server is going down; start-up goes on from here
            self._waiting.add(queue.id)
            return "wait"
        except DomainError as exc:
            await self._unstart(item)
            if first:
                raise
            reason = f"#{item.ticket_number} could not start: {exc.message}"
            await self._fail(queue, item, reason)
            await self._pause(queue.id, reason, item, None)
            return None
        async with self.db.transaction() as conn:
            await db_queues.update_item(conn, item.id, session_id=int(session["id"]))
        self._waiting.discard(queue.id)
        return session

    async def _budget(self, queue: WorkQueue) -> Budget | str:
        """The next item's budget under ``max_cost_per_queue_usd`` and ``max_turns_per_queue``:
        what the queue's runs have left of each (when that is below the per-run limit), or why
        the queue must pause instead. Items running side by side each get all that is left."""
        settings = await self.settings.current()
        cost_limit, turn_limit = settings.max_cost_per_queue_usd, settings.max_turns_per_queue
        if cost_limit is None and turn_limit is None:
            return Budget()
        ids = [i.session_id for i in queue.items if i.session_id is not None]
        runs = [await self.agent_sessions.get(s) for s in ids]
        cost = Budget()
        if cost_limit is not None:
            spent = sum(run.cost_usd for run in runs)
            label, left = f"{dollars(cost_limit)} for the queue", round(cost_limit - spent, 6)
            if left <= 0:
                return f"budget: {label} (spent {dollars(spent)})"
            per_run = settings.max_cost_per_run_usd
            if per_run is None or per_run > left:
                cost = Budget(None, left, label)
        if turn_limit is not None:
            used = sum(run.model_calls for run in runs)
            label, left_turns = f"{turns_text(turn_limit)} for the queue", turn_limit - used
            if left_turns <= 0:
                return f"budget: {label} (used {used})"
            per_run_turns = settings.max_turns_per_run
            if per_run_turns is None or per_run_turns > left_turns:
                return replace(cost, max_turns=left_turns, turns_label=label)
        return cost

    def _prepare_next(self, queue: WorkQueue, blocked: list[rules.Blocked]) -> None:
        """Make the next pending ticket's worktree while the running ones work.

        A new worktree costs tens of milliseconds of git (mostly fsync); made ahead, the step
        from one ticket to the next does not wait on it (bench/queue_step.py). Not with
        ``merge_each``: the next branch must start from what the merge leaves.
        """
        if queue.merge_each:
            return
        held = {b.item.id for b in blocked}
        upcoming = next(
            (
                item
                for item in queue.pending_items()
                if item.id not in held and item.ticket_status not in CLOSED_TICKETS
            ),
            None,
        )
        if upcoming is None:
            return
        task = asyncio.create_task(self._make_worktree(queue.project_id, upcoming.ticket_id))
        self._preparing.add(task)
        task.add_done_callback(self._preparing.discard)

    async def _make_worktree(self, project_id: int, ticket_id: int) -> None:
        try:
            ticket = await self.tickets.get_by_id(ticket_id)
            if ticket.worktree_path or ticket.status.value in CLOSED_TICKETS:
                return
            project = await self.projects.get_by_id(project_id)
            await self.agent.make_worktree(project, ticket)
        except Exception:  # the ticket's own start makes it (or reports why it cannot)
            log.warning("making ticket %d's worktree ahead failed", ticket_id, exc_info=True)

    async def shutdown(self) -> None:
        """Server shutdown: worktrees being made ahead are let go (a start makes them later)."""
        for task in list(self._preparing):
            task.cancel()
        if self._preparing:
            await asyncio.wait(set(self._preparing), timeout=5)

    async def _unstart(self, item: QueueItem) -> None:
        async with self.db.transaction() as conn:
            await db_queues.update_item(conn, item.id, status=ItemStatus.PENDING, started_at=None)

    # --- transitions --------------------------------------------------------------------------

    async def _fail(self, queue: WorkQueue, item: QueueItem, error: str) -> None:
        async with self.db.transaction() as conn:
            await db_queues.update_item(
                conn, item.id, status=ItemStatus.FAILED, error=error, ended_at=now_iso()
            )

    async def _pause(
        self, queue_id: int, reason: str, item: QueueItem | None, session: AgentSession | None
    ) -> None:
        self._waiting.discard(queue_id)
        async with self.db.transaction() as conn:
            await db_queues.update_queue(
                conn, queue_id, now_iso(), status=QueueStatus.PAUSED, reason=reason
            )
        queue = await self.queues.by_id(queue_id)
        shown = queue.item_for(item.ticket_id) if item else None
        self._announce(
            QueuePaused,
            queue,
            [shown] if shown else [],
            session=session.view() if session else None,
            reason=reason,
        )

    async def _complete(self, queue: WorkQueue, last: QueueItem | None) -> None:
        async with self.db.transaction() as conn:
            await db_queues.update_queue(
                conn,
                queue.id,
                now_iso(),
                status=QueueStatus.COMPLETED,
                reason=None,
                ended_at=now_iso(),
            )
        queue = await self.queues.by_id(queue.id)
        shown = queue.item_for(last.ticket_id) if last else None
        session = None
        if shown is not None and shown.session_id is not None:
            session = (await self.agent_sessions.get(shown.session_id)).view()
        self._announce(QueueCompleted, queue, [shown] if shown else [], session=session)

    # --- helpers ------------------------------------------------------------------------------

    async def _user(self, user_id: int | None) -> User | None:
        if user_id is None:
            return None
        return await db_users.get_user(self.db.reader, user_id)

    def _announce(
        self,
        event: type[Payload],
        queue: WorkQueue,
        items: Iterable[QueueItem] = (),
        **extra: Any,
    ) -> None:
        """A queue event on its project's and its own channels and, but for ``queue:updated``,
        on the ticket channel of the item it is about (the first of ``items``)."""
        shown = list(items)
        channels = [project_channel(queue.project_id), queue_channel(queue.id)]
        data: dict[str, Any] = {"queue": queue.view(), **extra}
        if event is not QueueUpdated:
            channels += [ticket_channel(item.ticket_id) for item in shown[:1]]
            data["item"] = shown[0].view() if shown else None
        self.bus.publish(event.model_validate(data), channels)
