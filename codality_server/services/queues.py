"""Work queues (product.md §8): make, edit and delete them; start, cancel and release them.

Every change publishes the queue's view on its project's channel (``queue:created|updated|
cancelled|deleted``), so boards and ``queue show`` stay current without polling. Running a queue
(which item starts when, and what a session's end means) is ``QueueRunner``'s job; it builds on
this service, so what an edit of a running queue sets off is a hook it subscribes where the
services are composed (``on_running_queue_edited``). Both serialise a queue's changes with the
queue's lock kept here.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from codality_server.db import queues as db_queues
from codality_server.db import tickets as db_tickets
from codality_server.db.database import Connection
from codality_server.domain import queues as rules
from codality_server.domain.errors import Conflict, InvalidInput, NotFound
from codality_server.domain.events import (
    Payload,
    QueueCreated,
    QueueDeleted,
    QueueUpdated,
    project_channel,
    queue_channel,
)
from codality_server.domain.projects import Project
from codality_server.domain.queues import QueueStatus, WorkQueue
from codality_server.domain.users import User

from .base import Core, Service, now_iso

if TYPE_CHECKING:
    from .projects import ProjectService

# Called with a running queue's id after an edit (new tickets, more room in parallel).
QueueHook = Callable[[int], Awaitable[None]]


class QueueService(Service):
    """The work queues of each project."""

    def __init__(self, core: Core, *, projects: ProjectService) -> None:
        super().__init__(core)
        self.projects = projects
        self._locks: dict[int, asyncio.Lock] = {}
        self._edit_hooks: builtins.list[QueueHook] = []

    def lock(self, queue_id: int) -> asyncio.Lock:
        """The one lock for changing a queue: its edits and every step of running it."""
        return self._locks.setdefault(queue_id, asyncio.Lock())

    def on_running_queue_edited(self, hook: QueueHook) -> None:
        """Call ``hook(queue_id)`` after an edit of a running queue, in subscription order."""
        self._edit_hooks.append(hook)

    # --- reading ---------------------------------------------------------------------------

    async def list(self, slug: str) -> builtins.list[WorkQueue]:
        project = await self.projects.get(slug)
        return await db_queues.list_queues(self.db.reader, project.id)

    async def get(self, slug: str, queue_id: int) -> tuple[Project, WorkQueue]:
        project = await self.projects.get(slug)
        queue = await db_queues.get_queue(self.db.reader, queue_id)
        if queue is None or queue.project_id != project.id:
            raise NotFound(f"project {slug!r} has no work queue {queue_id}")
        return project, queue

    async def by_id(self, queue_id: int, conn: Connection | None = None) -> WorkQueue:
        queue = await db_queues.get_queue(conn or self.db.reader, queue_id)
        if queue is None:
            raise NotFound(f"no work queue {queue_id}")
        return queue

    # --- changing --------------------------------------------------------------------------

    async def create(
        self,
        slug: str,
        author: User | None,
        *,
        name: str,
        tickets: Sequence[int],
        description: str = "",
        merge_each: bool = False,
        max_parallel: int = 1,
    ) -> WorkQueue:
        """A pending queue of ``tickets`` (numbers), in that order (publishes ``queue:created``).

        An unknown or repeated ticket is a 400; a ticket that a running or paused queue still
        has to work on is a 409 naming that queue.
        """
        project = await self.projects.get(slug)
        async with self.db.transaction() as conn:
            queue = await self.insert(
                conn,
                project,
                author,
                name=name,
                tickets=tickets,
                description=description,
                merge_each=merge_each,
                max_parallel=max_parallel,
            )
        self.publish(QueueCreated, queue)
        return queue

    async def insert(
        self,
        conn: Connection,
        project: Project,
        author: User | None,
        *,
        name: str,
        tickets: Sequence[int],
        description: str = "",
        merge_each: bool = False,
        max_parallel: int = 1,
    ) -> WorkQueue:
        """Check and insert a queue inside the caller's transaction (a confirmed discovery
        proposal makes its tickets and their queue together); the caller publishes
        ``queue:created`` once it committed."""
        name = rules.clean_name(name)
        description = rules.clean_description(description)
        max_parallel = rules.check_max_parallel(max_parallel)
        numbers = rules.check_ticket_numbers(tickets)
        ticket_ids = await self._ticket_ids(conn, project, numbers)
        await self.check_free(conn, ticket_ids, None)
        queue_id = await db_queues.insert_queue(
            conn,
            project.id,
            name=name,
            description=description,
            merge_each=merge_each,
            max_parallel=max_parallel,
            created_by=author.id if author else None,
            now=now_iso(),
        )
        await db_queues.set_items(conn, queue_id, ticket_ids)
        return await self.by_id(queue_id, conn)

    async def update(
        self,
        slug: str,
        queue_id: int,
        *,
        name: str | None = None,
        description: str | None = None,
        tickets: Sequence[int] | None = None,
        merge_each: bool | None = None,
        max_parallel: int | None = None,
    ) -> WorkQueue:
        """Rename, describe, retune, or give the full new order of tickets: pending items may
        be reordered, added or dropped, the others must stay listed (also while it runs)."""
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = rules.clean_name(name)
        if description is not None:
            changes["description"] = rules.clean_description(description)
        if merge_each is not None:
            changes["merge_each"] = merge_each
        if max_parallel is not None:
            changes["max_parallel"] = rules.check_max_parallel(max_parallel)
        numbers = rules.check_ticket_numbers(tickets) if tickets is not None else None
        if not changes and numbers is None:
            raise InvalidInput(
                "give at least one of name, description, tickets, merge_each, max_parallel",
                field="body",
            )
        project, _ = await self.get(slug, queue_id)
        async with self.lock(queue_id):
            async with self.db.transaction() as conn:
                queue = await self.by_id(queue_id, conn)
                if numbers is not None:
                    current = {item.ticket_id: item.ticket_number for item in queue.items}
                    rules.check_edit(queue, numbers, current)
                    ticket_ids = await self._ticket_ids(conn, project, numbers)
                    added = [tid for tid in ticket_ids if tid not in current]
                    if queue.status in rules.ACTIVE:
                        await self.check_free(conn, added, queue.id)
                    await db_queues.set_items(conn, queue.id, ticket_ids)
                await db_queues.update_queue(conn, queue.id, now_iso(), **changes)
                queue = await self.by_id(queue_id, conn)
            self.publish(QueueUpdated, queue)
        if queue.status is QueueStatus.RUNNING:
            # New tickets or more room in parallel: start what may run now.
            for hook in self._edit_hooks:
                await hook(queue.id)
            queue = await self.by_id(queue.id)
        return queue

    async def delete(self, slug: str, queue_id: int) -> None:
        """Delete a queue that is not running (its tickets and their work stay)."""
        _, queue = await self.get(slug, queue_id)
        rules.check_can_delete(queue)
        async with self.lock(queue_id), self.db.transaction() as conn:
            current = await self.by_id(queue_id, conn)
            rules.check_can_delete(current)
            await db_queues.delete_queue(conn, queue_id)
        self.bus.publish(
            QueueDeleted(id=queue.id, project_id=queue.project_id, name=queue.name),
            (project_channel(queue.project_id), queue_channel(queue.id)),
        )

    # --- helpers ---------------------------------------------------------------------------

    def publish(self, event: type[Payload], queue: WorkQueue, **extra: Any) -> None:
        """A queue event (``QueueCreated`` …) on its project's and its own channel, with the
        queue's view and ``extra`` (item, session and reason views)."""
        self.bus.publish(
            event.model_validate({"queue": queue.view(), **extra}),
            (project_channel(queue.project_id), queue_channel(queue.id)),
        )

    async def _ticket_ids(
        self, conn: Connection, project: Project, numbers: Sequence[int]
    ) -> builtins.list[int]:
        ids = []
        for number in numbers:
            ticket = await db_tickets.ticket_by_number(conn, project.id, number)
            if ticket is None:
                raise InvalidInput(
                    f"tickets: project {project.slug!r} has no ticket #{number}", field="tickets"
                )
            ids.append(ticket.id)
        return ids

    async def check_free(
        self, conn: Connection, ticket_ids: Sequence[int], other_than: int | None
    ) -> None:
        """409 naming the queue when a running or paused queue still has to work on a ticket."""
        held = await db_queues.holders(conn, ticket_ids, other_than)
        if held:
            number, queue_name, status = held[0]
            raise Conflict(
                f"ticket #{number} is in queue {queue_name!r}, which is {status}; cancel that"
                " queue or take the ticket out of it first",
                details={"ticket": number, "queue": queue_name},
            )
