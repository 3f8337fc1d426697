"""Plans: write a design, keep its ticket drafts, approve it into tickets (product.md §8).

Every change publishes the plan on its project's channel (``plan:created``, ``plan:updated``,
``plan:deleted``). Checks that depend on the plan's state (approved or not) are made on the row
read inside the write transaction, so an edit and an approval can never both win. The model's
side of plans (``PlanAgent``) builds on this service; what it does when a plan is saved (name
an untitled one) or deleted (stop its suggestion round) is subscribed where the services are
composed (``on_saved``, ``on_deleting``).
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from codality_server.db import dependencies as db_dependencies
from codality_server.db import plans as db_plans
from codality_server.db import tickets as db_tickets
from codality_server.db.database import Connection
from codality_server.domain.errors import Conflict, InvalidInput, NotFound
from codality_server.domain.events import (
    PlanCreated,
    PlanDeleted,
    PlanUpdated,
    plan_channel,
    project_channel,
)
from codality_server.domain.plans import (
    DraftInput,
    Plan,
    PlanStatus,
    clean_plan_title,
    order_drafts,
)
from codality_server.domain.projects import Project
from codality_server.domain.tickets import Ticket, TicketStatus, clean_markdown
from codality_server.domain.users import User

from .base import Core, Service, now_iso

if TYPE_CHECKING:
    from .projects import ProjectService
    from .tickets import TicketService

# Called with a plan a user created or edited; must not block (work goes to the background).
SavedHook = Callable[[Plan], None]
# Called with a plan's id before it is deleted.
DeletingHook = Callable[[int], Awaitable[None]]


class PlanService(Service):
    """The plans of each project."""

    def __init__(self, core: Core, *, projects: ProjectService, tickets: TicketService) -> None:
        super().__init__(core)
        self.projects = projects
        self.tickets = tickets
        self._saved_hooks: builtins.list[SavedHook] = []
        self._deleting_hooks: builtins.list[DeletingHook] = []

    def on_saved(self, hook: SavedHook) -> None:
        """Call ``hook(plan)`` after a plan is created or edited, in subscription order."""
        self._saved_hooks.append(hook)

    def on_deleting(self, hook: DeletingHook) -> None:
        """Call ``hook(plan_id)`` before a plan is deleted, in subscription order."""
        self._deleting_hooks.append(hook)

    # --- reading ---------------------------------------------------------------------------

    async def list(self, slug: str) -> list[Plan]:
        """The project's plans, newest first."""
        project = await self.projects.get(slug)
        return await db_plans.list_plans(self.db.reader, project.id)

    async def get(self, slug: str, plan_id: int) -> tuple[Project, Plan]:
        project = await self.projects.get(slug)
        plan = await db_plans.get_plan(self.db.reader, plan_id)
        if plan is None or plan.project_id != project.id:
            raise NotFound(f"project {slug!r} has no plan {plan_id}")
        return project, plan

    # --- changing --------------------------------------------------------------------------

    async def create(
        self,
        slug: str,
        author: User | None,
        *,
        title: str = "",
        body: str = "",
        drafts: Sequence[DraftInput] = (),
    ) -> Plan:
        """A new draft plan (publishes ``plan:created``)."""
        project = await self.projects.get(slug)
        async with self.db.transaction() as conn:
            plan = await self.insert(conn, project, author, title=title, body=body, drafts=drafts)
        self.publish_created(plan)
        return plan

    async def insert(
        self,
        conn: Connection,
        project: Project,
        author: User | None,
        *,
        title: str = "",
        body: str = "",
        drafts: Sequence[DraftInput] = (),
    ) -> Plan:
        """Check and insert a draft plan inside the caller's transaction (a confirmed discovery
        proposal); the caller calls ``publish_created`` once it committed."""
        return await db_plans.insert_plan(
            conn,
            project.id,
            title=clean_plan_title(title),
            body=clean_markdown(body, "body"),
            drafts=order_drafts(drafts),
            created_by=author.id if author else None,
            now=now_iso(),
        )

    def publish_created(self, plan: Plan) -> None:
        """Announce a new plan (``plan:created``); an untitled one is named in the background."""
        self._publish(PlanCreated, plan)
        for hook in self._saved_hooks:
            hook(plan)

    async def update(
        self,
        slug: str,
        plan_id: int,
        *,
        title: str | None = None,
        body: str | None = None,
        drafts: Sequence[DraftInput] | None = None,
    ) -> Plan:
        """Change the given fields; an approved plan's drafts are final (409)."""
        changes: dict[str, object] = {}
        if title is not None:
            changes["title"] = clean_plan_title(title)
        if body is not None:
            changes["body"] = clean_markdown(body, "body")
        if drafts is not None:
            changes["drafts"] = order_drafts(drafts)
        if not changes:
            raise InvalidInput("give at least one of title, body, drafts", field="body")
        project, _ = await self.get(slug, plan_id)
        async with self.db.transaction() as conn:
            plan = await self._current(conn, project, plan_id)
            if drafts is not None and plan.approved:
                raise Conflict(
                    f"plan {plan_id} is approved: its drafts became tickets and can't change"
                )
            updated = await db_plans.update_plan(conn, plan_id, now_iso(), **changes)
        plan = self._published(updated, plan_id)
        for hook in self._saved_hooks:
            hook(plan)  # untitled, with a body at last: named now
        return plan

    async def record(self, project: Project, plan_id: int, **fields: object) -> Plan:
        """Store what the model made for a plan (drafts, suggestions, readiness) and publish it;
        drafts for a plan approved meanwhile are refused (409)."""
        async with self.db.transaction() as conn:
            plan = await self._current(conn, project, plan_id)
            if "drafts" in fields and plan.approved:
                raise Conflict(f"plan {plan_id} was approved meanwhile; its drafts are final")
            updated = await db_plans.update_plan(conn, plan_id, now_iso(), **fields)
        return self._published(updated, plan_id)

    async def name(self, plan_id: int, title: str) -> Plan | None:
        """Give a plan the model's title, unless someone titled it (or deleted it) meanwhile."""
        async with self.db.transaction() as conn:
            plan = await db_plans.get_plan(conn, plan_id)
            if plan is None or plan.title:
                return None
            updated = await db_plans.update_plan(conn, plan_id, now_iso(), title=title)
        return self._published(updated, plan_id)

    async def delete(self, slug: str, plan_id: int) -> None:
        """Delete a plan; tickets an approval made from it stay (publishes ``plan:deleted``)."""
        project, _ = await self.get(slug, plan_id)
        for hook in self._deleting_hooks:
            await hook(plan_id)
        async with self.db.transaction() as conn:
            if not await db_plans.delete_plan(conn, plan_id):
                raise NotFound(f"project {slug!r} has no plan {plan_id}")
        self.bus.publish(
            PlanDeleted(id=plan_id, project_id=project.id),
            (project_channel(project.id), plan_channel(plan_id)),
        )

    async def approve(
        self, slug: str, plan_id: int, approver: User | None
    ) -> builtins.list[Ticket]:
        """Every draft becomes a ticket, with the dependencies between them, in one transaction.

        All or nothing: if any ticket can't be created, nothing is and the plan stays a draft.
        Approving twice is a conflict (409), as is approving a plan without drafts.
        """
        project, _ = await self.get(slug, plan_id)
        now = now_iso()
        async with self.db.transaction() as conn:
            plan = await self._current(conn, project, plan_id)
            if plan.approved:
                raise Conflict(f"plan {plan_id} is already approved")
            if not plan.drafts:
                raise Conflict(
                    f"plan {plan_id} has no ticket drafts to approve; extract or add them first"
                )
            ids: dict[int, int] = {}  # draft order → new ticket id
            for draft in plan.drafts:
                try:
                    ticket = await db_tickets.insert_ticket(
                        conn,
                        project.id,
                        title=draft.title,
                        description=draft.description,
                        kind=draft.kind,
                        priority=draft.priority,
                        status=TicketStatus.BACKLOG,
                        assignee=None,
                        created_by=approver.id if approver else None,
                        now=now,
                    )
                except sqlite3.IntegrityError as exc:
                    raise Conflict(
                        f"draft {draft.order} ({draft.title!r}) could not become a ticket ({exc});"
                        " nothing was created and the plan is still a draft"
                    ) from exc
                ids[draft.order] = ticket.id
                await db_dependencies.add_dependencies(
                    conn, ticket.id, [ids[order] for order in draft.depends_on]
                )
            marks = ", ".join("?" for _ in ids)
            tickets = await db_tickets.tickets_where(conn, f"t.id IN ({marks})", list(ids.values()))
            approved = await db_plans.update_plan(
                conn,
                plan_id,
                now,
                status=PlanStatus.APPROVED,
                drafts=plan.with_tickets([t.number for t in tickets]),
                approved_by=approver.id if approver else None,
                approved_at=now,
            )
        for ticket in tickets:
            self.tickets.publish_created(project, ticket)
        self._published(approved, plan_id)
        return tickets

    # --- helpers ---------------------------------------------------------------------------

    async def _current(self, conn: Connection, project: Project, plan_id: int) -> Plan:
        """The plan as the write transaction sees it (it may have gone since the lookup)."""
        plan = await db_plans.get_plan(conn, plan_id)
        if plan is None or plan.project_id != project.id:
            raise NotFound(f"project {project.slug!r} has no plan {plan_id}")
        return plan

    def _published(self, plan: Plan | None, plan_id: int) -> Plan:
        if plan is None:
            raise NotFound(f"no plan with id {plan_id}")
        self._publish(PlanUpdated, plan)
        return plan

    def _publish(self, event: type[PlanCreated | PlanUpdated], plan: Plan) -> None:
        self.bus.publish(
            event.of(plan.view()), (project_channel(plan.project_id), plan_channel(plan.id))
        )
