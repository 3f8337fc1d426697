"""Discovery conversations and their proposals (product.md §8).

This service owns what is stored: conversations, messages, and proposals as pending actions (a
reply's blocks are its session's transcript, which the session's recorder stores). Deciding an
action carries it out here, in one transaction, through the ticket (and plan and queue)
services' in-transaction helpers, so a confirmed proposal makes all of its things or none.
Writing a reply (the model) lives in ``discover_agent``, which stores through this service; what
this service asks of it (is a reply streaming, store its open block, cancel it) goes through the
``ReplyWriter`` protocol, attached where the services are composed.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from codality_server.db import conversations as db
from codality_server.db import tickets as db_tickets
from codality_server.db.database import Connection
from codality_server.db.dependencies import add_dependencies
from codality_server.domain.discover import (
    PROPOSAL_TOOLS,
    Action,
    ActionKind,
    ActionStatus,
    Conversation,
    ExistingTicket,
    Message,
    NewTicket,
    PlanProposal,
    QueueProposal,
    ReplyStatus,
    TicketsProposal,
    TicketUpdateProposal,
    clean_conversation_title,
    clean_message,
    parse,
    validate_proposal,
    with_edits,
)
from codality_server.domain.errors import Conflict, InvalidInput, NotFound
from codality_server.domain.events import (
    DiscoverMessage,
    QueueCreated,
    conversation_channel,
    project_channel,
)
from codality_server.domain.plans import DraftInput, Plan
from codality_server.domain.projects import Project
from codality_server.domain.queues import WorkQueue
from codality_server.domain.tickets import Ticket
from codality_server.domain.users import User

from .base import Core, Service, now_iso

if TYPE_CHECKING:
    from .plans import PlanService
    from .projects import ProjectService
    from .queues import QueueService
    from .tickets import TicketService


@dataclass
class _Made:
    """What one decision made or changed, published once its transaction committed."""

    tickets: list[Ticket] = field(default_factory=list)
    updated: list[Ticket] = field(default_factory=list)
    queues: list[WorkQueue] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)


INTERRUPTED = "the server stopped before the reply was finished"


class ReplyWriter(Protocol):
    """The side that writes replies (``DiscoverAgent``), as conversations need it."""

    def streaming(self, conversation_id: int) -> bool: ...

    async def store_open_block(self, conversation_id: int) -> None: ...

    async def cancel_quietly(self, conversation_id: int) -> None: ...


class DiscoverService(Service):
    """Conversations of one project; each holds messages and the actions they propose."""

    def __init__(
        self,
        core: Core,
        *,
        projects: ProjectService,
        tickets: TicketService,
        plans: PlanService,
        queues: QueueService,
    ) -> None:
        super().__init__(core)
        self.projects = projects
        self.tickets = tickets
        self.plans = plans
        self.queues = queues
        self._writer: ReplyWriter | None = None

    def replies_written_by(self, writer: ReplyWriter) -> None:
        self._writer = writer

    @property
    def _replies(self) -> ReplyWriter:
        assert self._writer is not None, "the composition root attaches the reply writer"
        return self._writer

    # --- conversations ---------------------------------------------------------------------------

    async def list(self, slug: str) -> builtins.list[Conversation]:
        project = await self.projects.get(slug)
        return await db.list_conversations(self.db.reader, project.id)

    async def create(self, slug: str, user: User | None, title: str = "") -> Conversation:
        project = await self.projects.get(slug)
        title = clean_conversation_title(title)
        async with self.db.transaction() as conn:
            return await db.insert_conversation(
                conn, project.id, title, user.id if user else None, now_iso()
            )

    async def get(self, slug: str, conversation_id: int) -> tuple[Project, Conversation]:
        project = await self.projects.get(slug)
        found = await db.get_conversation(self.db.reader, conversation_id)
        if found is None or found.project_id != project.id:
            raise NotFound(f"project {slug!r} has no conversation {conversation_id}")
        return project, found

    async def show(self, slug: str, conversation_id: int) -> dict[str, Any]:
        """The conversation with every message, its blocks, tool calls and actions."""
        _, conversation = await self.get(slug, conversation_id)
        last_event_id = self.bus.last_id  # follow live after this, nothing missed in between
        # The open text block then holds every delta published so far.
        await self._replies.store_open_block(conversation.id)
        messages = await db.messages(self.db.reader, conversation.id)
        streaming = self._replies.streaming(conversation.id)
        return conversation.with_messages(messages, streaming, last_event_id)

    async def rename(self, slug: str, conversation_id: int, title: str) -> Conversation:
        title = clean_conversation_title(title)
        if not title:
            raise InvalidInput("title: must not be empty", field="title")
        _, conversation = await self.get(slug, conversation_id)
        return await self.set_title(conversation.id, title)

    async def set_title(self, conversation_id: int, title: str) -> Conversation:
        async with self.db.transaction() as conn:
            if not await db.set_title(conn, conversation_id, title, now_iso()):
                raise NotFound(f"no conversation {conversation_id}")
            found = await db.get_conversation(conn, conversation_id)
        assert found is not None
        return found

    async def conversation(self, conversation_id: int) -> Conversation | None:
        return await db.get_conversation(self.db.reader, conversation_id)

    async def delete(self, slug: str, conversation_id: int) -> None:
        """Delete it with everything in it; a reply being written is cancelled first."""
        _, conversation = await self.get(slug, conversation_id)
        await self._replies.cancel_quietly(conversation.id)
        async with self.db.transaction() as conn:
            await db.delete_conversation(conn, conversation.id)

    async def messages(self, conversation_id: int) -> builtins.list[Message]:
        return await db.messages(self.db.reader, conversation_id)

    async def message(self, conversation_id: int, message_id: int) -> Message:
        found = await db.messages(self.db.reader, conversation_id, message_id)
        if not found:
            raise NotFound(f"conversation {conversation_id} has no message {message_id}")
        return found[0]

    # --- storing a reply as it is written --------------------------------------------------------

    async def add_user_message(self, conversation_id: int, user: User | None, content: str) -> int:
        content = clean_message(content)
        async with self.db.transaction() as conn:
            now = now_iso()
            message_id = await db.insert_message(
                conn,
                conversation_id,
                "user",
                ReplyStatus.COMPLETE,
                user.id if user else None,
                now,
                content=content,
            )
            await db.touch(conn, conversation_id, now)
        return message_id

    async def start_reply(self, conversation_id: int, model: str) -> int:
        async with self.db.transaction() as conn:
            now = now_iso()
            message_id = await db.insert_message(
                conn, conversation_id, "assistant", ReplyStatus.STREAMING, None, now, model
            )
            await db.touch(conn, conversation_id, now)
        return message_id

    async def link_session(self, message_id: int, session_id: int) -> None:
        async with self.db.transaction() as conn:
            await db.link_session(conn, message_id, session_id)

    async def finish_reply(
        self,
        message_id: int,
        status: ReplyStatus,
        error: str | None = None,
        usage: tuple[int, int, float] | None = None,
    ) -> None:
        async with self.db.transaction() as conn:
            await db.finish_message(conn, message_id, status, error, usage, now_iso())

    async def interrupt_streaming(self) -> int:
        """At start-up: replies a dead server was writing are marked ``interrupted``."""
        async with self.db.transaction() as conn:
            return await db.interrupt_streaming(conn, now_iso())

    async def propose(
        self,
        project: Project,
        conversation_id: int,
        message_id: int,
        session_id: int,
        tool: str,
        raw: Any,
    ) -> Action:
        """Check a proposal from the model and store it as a pending action on its message (and
        as an ``action`` block of the reply's session transcript).

        A malformed one raises InvalidInput (the caller reports it to the model as a tool error)
        and stores nothing; so does one naming a ticket the project does not have.
        """
        spec = PROPOSAL_TOOLS[tool]
        proposal = validate_proposal(spec.kind, raw)
        await self._check_references(project, spec.kind, proposal)
        async with self.db.transaction() as conn:
            return await db.insert_action(
                conn, conversation_id, message_id, session_id, spec.kind, proposal, now_iso()
            )

    async def _check_references(
        self, project: Project, kind: ActionKind, proposal: dict[str, Any]
    ) -> None:
        for number in _referenced_numbers(kind, proposal):
            await self.tickets.get(project.slug, number)

    # --- deciding --------------------------------------------------------------------------------

    async def decide(
        self,
        slug: str,
        conversation_id: int,
        action_id: int,
        user: User | None,
        decision: str,
        edits: dict[str, Any] | None = None,
    ) -> Action:
        """Confirm (carry it out, in one transaction) or reject a pending action; twice → 409."""
        project, conversation = await self.get(slug, conversation_id)
        if decision not in ("confirm", "reject"):
            raise InvalidInput(
                f"decision: {decision!r} is not one of confirm, reject", field="decision"
            )
        if edits is not None and decision == "reject":
            raise InvalidInput("edits: only a confirmed action takes edits", field="edits")
        action = await db.get_action(self.db.reader, action_id)
        if action is None or action.conversation_id != conversation.id:
            raise NotFound(f"conversation {conversation_id} has no action {action_id}")
        _check_pending(action)
        proposal = action.proposal
        if edits:
            proposal = with_edits(action.kind, proposal, edits)
        made = _Made()
        async with self.db.transaction() as conn:
            current = await db.get_action(conn, action.id)
            assert current is not None
            _check_pending(current)  # another decision may have committed while we checked
            result: dict[str, Any] | None = None
            status = ActionStatus.REJECTED
            if decision == "confirm":
                result = await self._carry_out(conn, project, user, action.kind, proposal, made)
                status = ActionStatus.CONFIRMED
            decided = await db.decide_action(
                conn, action.id, status, proposal, result, user.id if user else None, now_iso()
            )
            assert decided is not None
        self._publish_made(project, made)
        message = await self.message(conversation.id, action.message_id)
        self.publish_message(project, conversation.id, message)
        return decided

    async def _carry_out(
        self,
        conn: Connection,
        project: Project,
        user: User | None,
        kind: ActionKind,
        proposal: dict[str, Any],
        made: _Made,
    ) -> dict[str, Any]:
        """Make what the proposal describes inside ``conn``; returns what was made."""
        tickets = self.tickets
        parsed = parse(kind, proposal)
        if isinstance(parsed, TicketsProposal):
            for draft in parsed.tickets:
                ticket = await self._new_ticket(conn, project, user, draft, made)
                await _add_dependencies(
                    conn, ticket, [made.tickets[p - 1] for p in draft.depends_on]
                )
            # Re-read: the rows now name the tickets they depend on.
            made.tickets[:] = [await _reread(conn, t) for t in made.tickets]
            return {"tickets": [t.view() for t in made.tickets]}
        if isinstance(parsed, TicketUpdateProposal):
            _, ticket = await tickets.get(project.slug, parsed.number)
            checked = tickets.checked_changes(**parsed.changes())
            ticket = await tickets.update_in(conn, ticket.id, checked)
            made.updated.append(ticket)
            return {"ticket": ticket.view()}
        if isinstance(parsed, QueueProposal):
            numbers = []
            for item in parsed.items:
                if isinstance(item, ExistingTicket):
                    numbers.append(item.ticket)
                else:
                    numbers.append((await self._new_ticket(conn, project, user, item, made)).number)
            queue = await self.queues.insert(
                conn,
                project,
                user,
                name=parsed.name,
                tickets=numbers,
                description=parsed.description,
            )
            made.queues.append(queue)
            return {"queue": queue.view(), "tickets": [t.view() for t in made.tickets]}
        assert isinstance(parsed, PlanProposal)
        drafts = [
            DraftInput(
                d.title, d.description, d.kind.value, d.priority.value, position, d.depends_on
            )
            for position, d in enumerate(parsed.tickets, start=1)
        ]
        plan = await self.plans.insert(
            conn, project, user, title=parsed.title, body=parsed.body, drafts=drafts
        )
        made.plans.append(plan)
        return {"plan": plan.view()}

    async def _new_ticket(
        self, conn: Connection, project: Project, user: User | None, draft: NewTicket, made: _Made
    ) -> Ticket:
        ticket = await self.tickets.insert(
            conn,
            project,
            user,
            title=draft.title,
            description=draft.description,
            kind=draft.kind,
            priority=draft.priority,
        )
        made.tickets.append(ticket)
        return ticket

    def _publish_made(self, project: Project, made: _Made) -> None:
        """Once committed, the usual events for everything the decision made or changed."""
        for ticket in made.tickets:
            self.tickets.publish_created(project, ticket)
        for ticket in made.updated:
            self.tickets.publish_updated(project, ticket)
        for plan in made.plans:
            self.plans.publish_created(plan)
        for queue in made.queues:
            self.queues.publish(QueueCreated, queue)

    # --- events ----------------------------------------------------------------------------------

    def publish_message(self, project: Project, conversation_id: int, message: Message) -> None:
        self.bus.publish(
            DiscoverMessage(conversation_id=conversation_id, message=message.shape()),
            (project_channel(project.id), conversation_channel(conversation_id)),
        )


def _check_pending(action: Action) -> None:
    if action.status is not ActionStatus.PENDING:
        raise Conflict(f"action {action.id} was already {action.status.value}")


def _referenced_numbers(kind: ActionKind, proposal: dict[str, Any]) -> builtins.list[int]:
    """Existing ticket numbers a proposal names (they must exist in the project)."""
    if kind is ActionKind.TICKET_UPDATE:
        return [int(proposal["number"])]
    if kind is ActionKind.QUEUE:
        return [int(item["ticket"]) for item in proposal["items"] if "ticket" in item]
    return []


async def _add_dependencies(conn: Connection, ticket: Ticket, on: builtins.list[Ticket]) -> None:
    if on:
        await add_dependencies(conn, ticket.id, [t.id for t in on])


async def _reread(conn: Connection, ticket: Ticket) -> Ticket:
    found = await db_tickets.get_ticket(conn, ticket.id)
    assert found is not None
    return found
