"""``codality ticket …``: the tracker. ``ticket_app`` is shared: the agent and review parts add
their verbs to it from ``commands/agent.py`` and ``commands/review.py``."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..context import CliContext
from ..editor import edit_text, read_text_arg, text_or_editor
from ..errors import CliError, ExitCode
from ..output import Column, FieldsOption, JsonOption

if TYPE_CHECKING:
    from ..api import ApiClient

ticket_app = typer.Typer(help="Tickets of the current project.", no_args_is_help=True)


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


TICKET_COLUMNS = [
    Column("#", "number"),
    Column("title", "title"),
    Column("kind", "kind"),
    Column("priority", "priority"),
    Column("status", "status"),
    Column("assignee", "assignee"),
    Column("agent", "agent_status"),
    Column("updated", "updated_at"),
]


def dependency_list(ticket: dict[str, Any]) -> str | None:
    """``#1, #3`` for the tickets this one waits for (None when it waits for none)."""
    numbers = ticket.get("depends_on") or []
    return ", ".join(f"#{n}" for n in numbers) or None


TICKET_FIELDS = [
    *TICKET_COLUMNS[:-1],
    Column("depends on", "depends_on", dependency_list),
    Column("branch", "branch"),
    Column("worktree", "worktree_path"),
    Column("created", "created_at"),
    Column("updated", "updated_at"),
]
SEARCH_COLUMNS = [
    Column("#", "number"),
    Column("title", "title"),
    Column("status", "status"),
    Column("snippet", "snippet"),
]

NumberArgument = Annotated[int, typer.Argument(help="Ticket number.", min=1)]
KindOption = Annotated[Kind | None, typer.Option("--kind", help="Ticket kind.")]
PriorityOption = Annotated[Priority | None, typer.Option("--priority", help="Priority.")]
DescriptionOption = Annotated[
    str | None,
    typer.Option("-d", "--description", help="Markdown text; '-' reads stdin; omitted: $EDITOR."),
]


@ticket_app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        list[Status] | None,
        typer.Option("-s", "--status", help="Only these statuses (repeatable)."),
    ] = None,
    kind: KindOption = None,
    priority: PriorityOption = None,
    assignee: Annotated[
        str | None, typer.Option("--assignee", help="A user id, or 'agent'.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many.", min=1)] = None,
    offset: Annotated[int | None, typer.Option("--offset", help="Skip this many.", min=0)] = None,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """List tickets by number."""
    cli = CliContext.of(ctx)
    statuses = [s.value for s in status] if status else None
    tickets = cli.run_in_project(
        lambda api, slug: api.tickets.list(
            slug,
            statuses,
            kind and kind.value,
            priority and priority.value,
            assignee,
            limit,
            offset,
        )
    )
    cli.output(as_json, fields).items(tickets, TICKET_COLUMNS)


@ticket_app.command("create")
def create(
    ctx: typer.Context,
    title: Annotated[str, typer.Argument(help="One-line title.")],
    description: DescriptionOption = None,
    kind: KindOption = None,
    priority: PriorityOption = None,
    status: Annotated[Status | None, typer.Option("--status", help="Initial status.")] = None,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """File a ticket; without --description on a terminal, $EDITOR opens for it."""
    cli = CliContext.of(ctx)
    described = text_or_editor(
        description, cli.streams.interactive, "Describe the ticket in markdown."
    )
    body: dict[str, Any] = {"title": title, "description": described or ""}
    for key, value in (("kind", kind), ("priority", priority), ("status", status)):
        if value is not None:
            body[key] = value.value
    ticket = cli.run_in_project(lambda api, slug: api.tickets.create(slug, body))
    cli.output(as_json, fields).done(
        f"created ticket #{ticket['number']}: {ticket['title']}", ticket
    )


@ticket_app.command("show")
def show(
    ctx: typer.Context,
    number: NumberArgument,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Show a ticket and its description."""
    cli = CliContext.of(ctx)
    ticket = cli.run_in_project(lambda api, slug: api.tickets.get(slug, number))
    cli.output(as_json, fields).item(ticket, TICKET_FIELDS, body=ticket.get("description") or None)


@ticket_app.command("edit")
def edit(
    ctx: typer.Context,
    number: NumberArgument,
    title: Annotated[str | None, typer.Option("--title", help="New title.")] = None,
    description: DescriptionOption = None,
    kind: KindOption = None,
    priority: PriorityOption = None,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Change a ticket's title, description, kind or priority (no option on a terminal: $EDITOR)."""
    cli = CliContext.of(ctx)
    changes: dict[str, Any] = {}
    if title is not None:
        changes["title"] = title
    if description is not None:
        changes["description"] = read_text_arg(description)
    if kind is not None:
        changes["kind"] = kind.value
    if priority is not None:
        changes["priority"] = priority.value

    async def update(api: ApiClient, slug: str) -> dict[str, Any]:
        if not changes:
            if not cli.streams.interactive:
                raise CliError(
                    "nothing to change: pass --title, --description, --kind or --priority",
                    ExitCode.USAGE,
                )
            current = await api.tickets.get(slug, number)
            changes["description"] = edit_text(current.get("description") or "")
        return await api.tickets.update(slug, number, changes)

    ticket = cli.run_in_project(update)
    cli.output(as_json, fields).done(f"updated ticket #{ticket['number']}", ticket)


@ticket_app.command("status")
def set_status(
    ctx: typer.Context,
    number: NumberArgument,
    status: Annotated[
        Status | None,
        typer.Argument(help="The new status; without it, show the agent's sessions instead."),
    ] = None,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Move a ticket to another column, or show its agent's current and past sessions."""
    cli = CliContext.of(ctx)
    if status is None:
        show_agent_status(cli, number, as_json, fields)
        return
    ticket = cli.run_in_project(
        lambda api, slug: api.tickets.set_status(slug, number, status.value)
    )
    cli.output(as_json, fields).done(f"ticket #{number} is now {ticket['status']}", ticket)


@ticket_app.command("assign")
def assign(
    ctx: typer.Context,
    number: NumberArgument,
    who: Annotated[str, typer.Argument(help="'me', 'agent', 'none', or a user id.")],
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Assign a ticket to a user or to the agent."""
    cli = CliContext.of(ctx)

    async def assign_(api: ApiClient, slug: str) -> dict[str, Any]:
        assignee: str | int | None
        if who == "me":
            assignee = int((await api.me.show())["id"])
        elif who == "none":
            assignee = None
        elif who == "agent":
            assignee = "agent"
        elif who.isdigit():
            assignee = int(who)
        else:
            raise CliError(
                f"assign to 'me', 'agent', 'none' or a user id, not {who!r}", ExitCode.USAGE
            )
        return await api.tickets.assign(slug, number, assignee)

    ticket = cli.run_in_project(assign_)
    target = ticket.get("assignee") or "nobody"
    cli.output(as_json, fields).done(f"ticket #{number} is assigned to {target}", ticket)


@ticket_app.command("search")
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Words to find in titles, descriptions, comments.")],
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many.", min=1)] = None,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Full-text search over the current project's tickets, best match first."""
    cli = CliContext.of(ctx)
    found = cli.run_in_project(lambda api, slug: api.tickets.search(slug, query, limit))
    cli.output(as_json, fields).items(found, SEARCH_COLUMNS)


def show_agent_status(cli: CliContext, number: int, as_json: bool, fields: str | None) -> None:
    """The agent's current and past sessions on a ticket (``ticket status N`` without STATUS)."""
    from ..agent_stream import money

    found = cli.run_in_project(lambda api, slug: api.agent.status(slug, number))
    if as_json:
        cli.output(True, fields).json(found)
        return
    state = "running" if found["running"] else "not running"
    cli.streams.message(f"ticket #{number}: agent {state}")
    columns = [
        Column("id", "id"),
        Column("trigger", "trigger"),
        Column("status", "status"),
        Column("model", "model"),
        Column("sandbox", "sandbox"),
        Column("tokens in", "tokens_in"),
        Column("tokens out", "tokens_out"),
        Column("cost", "cost_usd", lambda s: money(s.get("cost_usd"))),
        Column("started", "started_at"),
        Column("summary", "summary"),
    ]
    cli.output(False, fields).items(found["sessions"], columns)
