"""Tickets: their vocabulary, columns, and ``ticket list | show | status`` (showing)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from ..errors import CliError, ExitCode
from ..output import Column
from ..people import assignee_label

if TYPE_CHECKING:
    from ..api import ApiClient
    from ..api.models import Ticket
    from ..context import CliContext


class Status(StrEnum):
    inbox = "inbox"
    backlog = "backlog"
    in_progress = "in_progress"
    in_review = "in_review"
    done = "done"
    cancelled = "cancelled"


class Kind(StrEnum):
    bug = "bug"
    feature = "feature"
    task = "task"
    chore = "chore"


class Priority(StrEnum):
    urgent = "urgent"
    high = "high"
    medium = "medium"
    low = "low"


OPEN_STATUSES = (Status.inbox, Status.backlog, Status.in_progress, Status.in_review)
CLOSED_STATUSES = (Status.done, Status.cancelled)


class State(StrEnum):
    open = "open"
    closed = "closed"
    all = "all"


class Sort(StrEnum):
    number = "number"
    created = "created"
    updated = "updated"
    priority = "priority"
    status = "status"


class Order(StrEnum):
    asc = "asc"
    desc = "desc"


# On a narrow terminal the title keeps its room: assignee, updated, kind, priority and the
# agent's state give way in that order (``Column.minor``).
TICKET_COLUMNS = [
    Column("#", "number"),
    Column("title", "title", truncate=True),
    Column("kind", "kind", minor=3),
    Column("priority", "priority", minor=2),
    Column("status", "status"),
    Column("assignee", "assignee", assignee_label, truncate=True, minor=5),
    Column("agent", "agent_status", minor=1),
    Column("updated", "updated_at", minor=4),
]


def dependency_list(ticket: Ticket) -> str | None:
    """``#1, #3`` for the tickets this one waits for (None when it waits for none)."""
    numbers = ticket["depends_on"]
    return ", ".join(f"#{n}" for n in numbers) or None


def stacked_on(ticket: Ticket) -> str | None:
    """``#1 (unmerged): its branch started from that work`` for stacked work, else None."""
    below = ticket["stacked_on"]
    return f"#{below}, whose unmerged work its branch started from" if below else None


def push_line(ticket: Ticket) -> str | None:
    """How a local merge went to origin, and how to push again when it did not."""
    push = ticket["push"]
    if not push:
        return None
    if push["pushed"]:
        return f"pushed to {push['remote']}"
    retry = push["retry"]
    why = push["detail"] or push["state"]
    return f"not pushed ({why})" + (f"; `{retry['command']}`" if retry else "")


TICKET_FIELDS = [
    Column("#", "number"),
    Column("title", "title"),
    *(column._replace(truncate=False, minor=0) for column in TICKET_COLUMNS[2:-1]),
    Column("depends on", "depends_on", dependency_list),
    Column("stacked on", "stacked_on", stacked_on),
    Column("push", "push", push_line),
    Column("branch", "branch"),
    Column("worktree", "worktree_path"),
    Column("created", "created_at"),
    Column("updated", "updated_at"),
]
STATUS_FIELDS = [
    Column("#", "number"),
    Column("title", "title"),
    Column("status", "status"),
    Column("agent", "agent_status"),
]


async def assignee_value(api: ApiClient, who: str) -> str | int | None:
    """``agent``, ``none`` (None), or a person (``me``, an e-mail, a name, an id) → their id."""
    from ..people import person_id

    folded = who.strip().casefold()
    if folded == "agent":
        return "agent"
    if folded in ("none", "nobody"):
        return None
    return await person_id(api, who)


def list_statuses(status: list[Status] | None, state: State | None) -> list[str] | None:
    """``--status`` as given; else the ``--state`` (open unless told) as its statuses."""
    if status:
        if state is not None:
            raise CliError("give --status or --state, not both", ExitCode.USAGE)
        return [s.value for s in status]
    chosen = state or State.open
    if chosen is State.all:
        return None
    return [s.value for s in (OPEN_STATUSES if chosen is State.open else CLOSED_STATUSES)]


class ListQuery:
    """What ``ticket list`` was asked for (its options, as typed)."""

    def __init__(
        self,
        state: State | None = None,
        status: list[Status] | None = None,
        kind: Kind | None = None,
        priority: Priority | None = None,
        assignee: str | None = None,
        search: str | None = None,
        sort: Sort = Sort.number,
        order: Order | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> None:
        self.state, self.status, self.kind, self.priority = state, status, kind, priority
        self.assignee, self.search, self.sort, self.order = assignee, search, sort, order
        self.limit, self.offset = limit, offset

    @property
    def filtered(self) -> bool:
        return bool(
            self.status or self.state or self.search or self.kind or self.priority or self.assignee
        )


def list_tickets(cli: CliContext, query: ListQuery, as_json: bool, fields: str | None) -> None:
    """``ticket list``: one request (two with ``--assignee``), then the table."""
    statuses = list_statuses(query.status, query.state)

    async def listing(api: ApiClient, slug: str) -> list[Ticket]:
        who: str | None = None
        if query.assignee is not None:
            value = await assignee_value(api, query.assignee)
            who = "none" if value is None else str(value)
        return await api.tickets.list(
            slug,
            statuses,
            query.kind and query.kind.value,
            query.priority and query.priority.value,
            who,
            query.limit,
            query.offset,
            None if query.sort is Sort.number else query.sort.value,
            query.order and query.order.value,
            query.search,
        )

    tickets = cli.run_in_project(listing)
    if not tickets and cli.streams.out_tty and not (as_json or fields):
        cli.streams.message(
            "no tickets match; `codality ticket list --state all` shows every ticket"
            if query.filtered
            else "no open tickets; file one with `codality ticket create TITLE`"
        )
        return
    cli.output(as_json, fields).items(tickets, TICKET_COLUMNS)


def show(cli: CliContext, number: int, as_json: bool, fields: str | None) -> None:
    """``ticket show``: its fields, then its description."""
    ticket = cli.run_in_project(lambda api, slug: api.tickets.get(slug, number))
    cli.output(as_json, fields).item(ticket, TICKET_FIELDS, body=ticket["description"] or None)


def show_status(cli: CliContext, number: int, as_json: bool, fields: str | None) -> None:
    """``ticket status N`` without a new status: where the ticket is."""
    ticket = cli.run_in_project(lambda api, slug: api.tickets.get(slug, number))
    cli.output(as_json, fields).item(ticket, STATUS_FIELDS)
