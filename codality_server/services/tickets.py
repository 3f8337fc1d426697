"""Tickets: create, edit, move, assign, list and search (product.md §4).

Every change publishes the ticket's view on its ticket and project channels, so the TUI board and
any open ticket screen stay current without polling.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from codality_server.db import tickets as db_tickets
from codality_server.db import users as db_users
from codality_server.db.database import Connection
from codality_server.domain.errors import InvalidInput, NotFound
from codality_server.domain.events import (
    TicketCreated,
    TicketUpdated,
    project_channel,
    ticket_channel,
)
from codality_server.domain.projects import Project
from codality_server.domain.ticket_moves import Action, allows, next_status
from codality_server.domain.tickets import (
    Assignee,
    Kind,
    Priority,
    SearchHit,
    Ticket,
    TicketFilter,
    TicketStatus,
    clean_markdown,
    clean_title,
    parse_assignee,
    parse_choice,
    search_expression,
)
from codality_server.domain.users import User

from .base import Core, Service, now_iso

if TYPE_CHECKING:
    from .projects import ProjectService

SEARCH_MAX_LIMIT = 100


class TicketService(Service):
    """The ticket tracker of each project."""

    def __init__(self, core: Core, *, projects: ProjectService) -> None:
        super().__init__(core)
        self.projects = projects

    # --- reading ---------------------------------------------------------------------------

    async def get(self, slug: str, number: int) -> tuple[Project, Ticket]:
        project = await self.projects.get(slug)
        ticket = await db_tickets.ticket_by_number(self.db.reader, project.id, number)
        if ticket is None:
            raise NotFound(f"project {slug!r} has no ticket #{number}")
        return project, ticket

    async def get_by_id(self, ticket_id: int) -> Ticket:
        return await self._read(self.db.reader, ticket_id)

    async def search(self, slug: str, query: str, limit: int = 20) -> list[SearchHit]:
        """Full-text search over title, description and comments; user text is never FTS syntax."""
        if not 1 <= limit <= SEARCH_MAX_LIMIT:
            raise InvalidInput(f"limit: must be 1..{SEARCH_MAX_LIMIT}", field="limit")
        expression = search_expression(query)
        project = await self.projects.get(slug)
        return await db_tickets.search_tickets(self.db.reader, project.id, expression, limit)

    async def list(self, slug: str, where: TicketFilter) -> list[Ticket]:
        """One page of the project's tickets, by number ascending."""
        project = await self.projects.get(slug)
        return await db_tickets.list_tickets(self.db.reader, project.id, where)

    # --- changing --------------------------------------------------------------------------

    async def create(
        self,
        slug: str,
        author: User | None,
        *,
        title: str,
        description: str = "",
        kind: str = Kind.TASK,
        priority: str = Priority.MEDIUM,
        status: str = TicketStatus.BACKLOG,
        assignee: int | str | None = None,
    ) -> Ticket:
        """A new ticket with the project's next number (publishes ``ticket:created``)."""
        project = await self.projects.get(slug)
        async with self.db.transaction() as conn:
            ticket = await self.insert(
                conn,
                project,
                author,
                title=title,
                description=description,
                kind=kind,
                priority=priority,
                status=status,
                assignee=assignee,
            )
        self.publish_created(project, ticket)
        return ticket

    async def insert(
        self,
        conn: Connection,
        project: Project,
        author: User | None,
        *,
        title: str,
        description: str = "",
        kind: str = Kind.TASK,
        priority: str = Priority.MEDIUM,
        status: str = TicketStatus.BACKLOG,
        assignee: int | str | None = None,
    ) -> Ticket:
        """Check and insert a ticket inside the caller's transaction, so a use case that makes
        several things at once (a confirmed proposal) commits them together. Nothing is
        published: the caller calls ``publish_created`` once the transaction committed."""
        title = clean_title(title)
        description = clean_markdown(description, "description")
        chosen_kind = parse_choice(Kind, kind, "kind")
        chosen_priority = parse_choice(Priority, priority, "priority")
        chosen_status = parse_choice(TicketStatus, status, "status")
        who = await self._checked_assignee(conn, assignee)
        return await db_tickets.insert_ticket(
            conn,
            project.id,
            title=title,
            description=description,
            kind=chosen_kind,
            priority=chosen_priority,
            status=chosen_status,
            assignee=who,
            created_by=author.id if author else None,
            now=now_iso(),
        )

    async def update(
        self,
        slug: str,
        number: int,
        *,
        title: str | None = None,
        description: str | None = None,
        kind: str | None = None,
        priority: str | None = None,
    ) -> Ticket:
        """Change the given fields; the others keep their values."""
        changes = self.checked_changes(
            title=title, description=description, kind=kind, priority=priority
        )
        project, ticket = await self.get(slug, number)
        return await self._change(project.id, ticket.id, **changes)

    @staticmethod
    def checked_changes(
        *,
        title: str | None = None,
        description: str | None = None,
        kind: str | None = None,
        priority: str | None = None,
        status: str | None = None,
    ) -> dict[str, Any]:
        """The given edits in their stored form, checked (400 when none or one is bad)."""
        changes: dict[str, Any] = {}
        if title is not None:
            changes["title"] = clean_title(title)
        if description is not None:
            changes["description"] = clean_markdown(description, "description")
        if kind is not None:
            changes["kind"] = parse_choice(Kind, kind, "kind")
        if priority is not None:
            changes["priority"] = parse_choice(Priority, priority, "priority")
        if status is not None:
            changes["status"] = parse_choice(TicketStatus, status, "status")
        if not changes:
            raise InvalidInput(
                "give at least one of title, description, kind, priority", field="body"
            )
        return changes

    async def update_in(self, conn: Connection, ticket_id: int, changes: dict[str, Any]) -> Ticket:
        """Apply ``checked_changes`` inside the caller's transaction (publish with
        ``publish_updated`` after it commits); a status change is the user's confirmed
        proposal, checked against the transition table."""
        if "status" in changes:
            ticket = await self._read(conn, ticket_id)
            chosen = next_status(ticket.status, Action.PROPOSAL, ticket.number, changes["status"])
            changes = {**changes, "status": chosen}
        updated = await db_tickets.update_ticket(conn, ticket_id, now_iso(), **changes)
        if updated is None:
            raise NotFound(f"no ticket with id {ticket_id}")
        return updated

    async def change_status(self, slug: str, number: int, status: str) -> Ticket:
        """A move by hand (``codality ticket status``, the board)."""
        chosen = parse_choice(TicketStatus, status, "status")
        _, ticket = await self.get(slug, number)
        return await self.move(ticket.id, Action.BY_HAND, chosen)

    async def assign(self, slug: str, number: int, assignee: int | str | None) -> Ticket:
        """Assign to an existing user (by id), to ``"agent"``, or to nobody (None)."""
        project, ticket = await self.get(slug, number)
        async with self.db.transaction() as conn:
            who = await self._checked_assignee(conn, assignee)
            updated = await db_tickets.update_ticket(conn, ticket.id, now_iso(), assignee=who)
        return self._published(project.id, ticket.id, updated)

    async def move(
        self, ticket_id: int, action: Action, chosen: TicketStatus | None = None
    ) -> Ticket:
        """Change the ticket's status as ``action`` does, by the transition table
        (``domain/ticket_moves.py``; ``IllegalMove``, a 409, when it does not allow it);
        publishes ``ticket:updated``. Every status change goes through here or ``move_in``."""
        async with self.db.transaction() as conn:
            updated = await self.move_in(conn, ticket_id, action, chosen)
        return self._published(updated.project_id, ticket_id, updated)

    async def react(self, ticket_id: int, action: Action) -> Ticket | None:
        """``move`` for a reaction to what already happened (a run ended, GitHub closed a pull
        request): None, and nothing changes, when the table does not allow the move."""
        async with self.db.transaction() as conn:
            ticket = await self._read(conn, ticket_id)
            if not allows(ticket.status, action):
                return None
            updated = await self.move_in(conn, ticket_id, action)
        return self._published(updated.project_id, ticket_id, updated)

    async def move_in(
        self, conn: Connection, ticket_id: int, action: Action, chosen: TicketStatus | None = None
    ) -> Ticket:
        """``move`` inside the caller's transaction (publish with ``publish_updated`` after
        it commits)."""
        ticket = await self._read(conn, ticket_id)
        status = next_status(ticket.status, action, ticket.number, chosen)
        updated = await db_tickets.update_ticket(conn, ticket_id, now_iso(), status=status)
        if updated is None:
            raise NotFound(f"no ticket with id {ticket_id}")
        return updated

    async def set_worktree(
        self, ticket_id: int, branch: str | None, worktree_path: str | None
    ) -> Ticket:
        """Record (or clear, with None) the ticket's branch and worktree; a cleared worktree
        takes what its branch was stacked on along."""
        ticket = await self.get_by_id(ticket_id)
        stacking = {} if worktree_path else {"stacked_on": None, "fork_sha": None}
        return await self._change(
            ticket.project_id, ticket_id, branch=branch, worktree_path=worktree_path, **stacking
        )

    async def set_stacked_on(self, ticket_id: int, below: int | None, fork: str | None) -> Ticket:
        """Record the unmerged dependency the ticket's new branch started from, and where."""
        ticket = await self.get_by_id(ticket_id)
        return await self._change(ticket.project_id, ticket_id, stacked_on=below, fork_sha=fork)

    async def stacked_on(self, ticket_id: int) -> builtins.list[Ticket]:
        """The tickets whose branches started from ``ticket_id``'s."""
        return await db_tickets.tickets_where(self.db.reader, "t.stacked_on = ?", (ticket_id,))

    def publish_updated(self, project: Project, ticket: Ticket) -> None:
        self._publish(TicketUpdated, project.id, ticket)

    def publish_created(self, project: Project, ticket: Ticket) -> None:
        """Announce a ticket another use case created (plan approval)."""
        self._publish(TicketCreated, project.id, ticket)

    # --- helpers ---------------------------------------------------------------------------

    @staticmethod
    async def _read(conn: Connection, ticket_id: int) -> Ticket:
        ticket = await db_tickets.get_ticket(conn, ticket_id)
        if ticket is None:
            raise NotFound(f"no ticket with id {ticket_id}")
        return ticket

    async def _checked_assignee(self, conn: Connection, assignee: int | str | None) -> Assignee:
        who = parse_assignee(assignee)
        if isinstance(who, int) and await db_users.get_user(conn, who) is None:
            raise InvalidInput(f"assignee: no user with id {who}", field="assignee")
        return who

    async def _change(self, project_id: int, ticket_id: int, **changes: Any) -> Ticket:
        async with self.db.transaction() as conn:
            updated = await db_tickets.update_ticket(conn, ticket_id, now_iso(), **changes)
        return self._published(project_id, ticket_id, updated)

    def _published(self, project_id: int, ticket_id: int, updated: Ticket | None) -> Ticket:
        if updated is None:  # deleted between the lookup and the write
            raise NotFound(f"no ticket with id {ticket_id}")
        self._publish(TicketUpdated, project_id, updated)
        return updated

    def _publish(
        self, event: type[TicketCreated | TicketUpdated], project_id: int, ticket: Ticket
    ) -> None:
        self.bus.publish(
            event.of(ticket.view()), (ticket_channel(ticket.id), project_channel(project_id))
        )
