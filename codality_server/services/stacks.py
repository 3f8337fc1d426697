"""Stacked work: a ticket that depends on unmerged work starts from it (``services.stacks``).

A dependent ticket's worktree branches from its dependency's branch while that is not merged
(from the default branch once it is), so its agent sees the dependency's files. The ticket
records the dependency it is stacked on and the commit it started from: its diff is taken
against the dependency's branch (or the default branch once that is merged) from that commit on,
so it shows only its own work however the dependency moves on; merging it merges the stack
below it first, in order.

With several dependencies whose work is unmerged, the ticket stacks on the one whose branch
already holds all the others' (a chain: #3 on #2 on #1); when their work sits on separate
branches, the start is refused until all but one are merged. A ticket with unmerged tickets
stacked on it cannot be discarded: their branches carry its work.
"""

from __future__ import annotations

import asyncio
import builtins
from pathlib import Path
from typing import TYPE_CHECKING

from codality_server.db import dependencies as db_dependencies
from codality_server.domain.errors import Conflict
from codality_server.domain.projects import Project
from codality_server.domain.tickets import Ticket, TicketStatus
from codality_server.git.worktrees import containing_branch

from .base import Core, Service

if TYPE_CHECKING:
    from .tickets import TicketService

CLOSED = frozenset({TicketStatus.DONE, TicketStatus.CANCELLED})


def unmerged(ticket: Ticket) -> bool:
    """Whether the ticket's work is on a branch of its own, not yet merged or set aside."""
    return ticket.status not in CLOSED and ticket.branch is not None


class StackService(Service):
    """Which branch a ticket starts from, which diff base it has, what its merge brings."""

    def __init__(self, core: Core, *, tickets: TicketService) -> None:
        super().__init__(core)
        self.tickets = tickets

    async def start_point(self, project: Project, ticket: Ticket) -> Ticket | None:
        """The unmerged dependency a new worktree of ``ticket`` branches from (None: the default
        branch). Conflict when its unmerged dependencies sit on separate branches."""
        depended = await db_dependencies.dependencies_of(self.db.reader, ticket.id)
        open_work = [d for d in depended if unmerged(d)]
        if len(open_work) <= 1:
            return open_work[0] if open_work else None
        branches = [d.branch for d in open_work if d.branch]
        top = await asyncio.to_thread(containing_branch, Path(project.path), branches)
        if top is None:
            numbers = " and ".join(f"#{d.number}" for d in open_work)
            raise Conflict(
                f"ticket #{ticket.number} depends on {numbers}, whose work sits on separate"
                " unmerged branches; merge all but one of them first"
                f" (`codality ticket merge {open_work[0].number}`)",
                details={"reason": "dependencies_apart"},
            )
        return next(d for d in open_work if d.branch == top)

    async def base_of(self, project: Project, ticket: Ticket) -> str:
        """The branch the ticket's diff is taken against: the unmerged dependency it is stacked
        on, else the default branch."""
        below = await self.below(ticket)
        return below.branch if below is not None and below.branch else project.default_branch

    async def stack(self, ticket: Ticket) -> builtins.list[Ticket]:
        """The unmerged tickets a merge of ``ticket`` brings, bottom first, ``ticket`` last."""
        found = [ticket]
        below = await self.below(ticket)
        while below is not None and below.id not in {t.id for t in found}:
            found.append(below)
            below = await self.below(below)
        return found[::-1]

    async def check_nothing_stacked_on(self, ticket: Ticket, action: str) -> None:
        """Conflict while unmerged tickets are stacked on ``ticket``: their branches carry its
        work, which a discard would otherwise leave for their merge to bring in."""
        above = [t for t in await self.tickets.stacked_on(ticket.id) if unmerged(t) and t.fork_sha]
        if above:
            numbers = ", ".join(f"#{t.number}" for t in above)
            raise Conflict(
                f"cannot {action} ticket #{ticket.number}: {numbers} started from its work;"
                f" discard {numbers} first (or merge them, which merges #{ticket.number} too)",
                details={"reason": "stacked_on", "tickets": [t.number for t in above]},
            )

    async def below(self, ticket: Ticket) -> Ticket | None:
        """The unmerged ticket ``ticket`` is stacked on, if any."""
        if ticket.stacked_on is None:
            return None
        below = await self.tickets.get_by_id(ticket.stacked_on)
        return below if unmerged(below) else None
