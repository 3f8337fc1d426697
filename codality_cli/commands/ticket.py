"""``codality ticket …``: the tracker. ``ticket_app`` is shared: the agent and review parts add
their verbs to it from ``commands/agent.py`` and ``commands/review.py``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..context import CliContext
from ..editor import edit_text, read_text_arg, text_or_editor
from ..errors import CliError, ExitCode
from ..options import FieldsOption, JsonOption
from ..output import Column
from ..people import assignee_label
from ..states import state_words
from ..views import tickets as views
from ..views.tickets import (
    OPEN_STATUSES,
    Kind,
    ListQuery,
    Order,
    Priority,
    Sort,
    State,
    Status,
    assignee_value,
    list_tickets,
)

if TYPE_CHECKING:
    from ..api import ApiClient
    from ..api.models import Ticket

ticket_app = typer.Typer(help="Tickets of the current project.", no_args_is_help=True)


SEARCH_COLUMNS = [
    Column("#", "number"),
    Column("title", "title", truncate=True),
    Column("status", "status"),
    Column("snippet", "snippet", truncate=True),
]

NumberArgument = Annotated[int, typer.Argument(help="Ticket number.", min=1)]
KindOption = Annotated[Kind | None, typer.Option("--kind", help="Ticket kind.")]
PriorityOption = Annotated[Priority | None, typer.Option("--priority", help="Priority.")]
DescriptionOption = Annotated[
    str | None,
    typer.Option(
        "-d",
        "--description",
        "-b",
        "--body",
        help="Markdown text; '-' reads stdin; omitted: $EDITOR.",
    ),
]
PERSON_HELP = "'me', an e-mail, a name or a user id"


def one_line_title(title: str) -> str:
    """A title as the server takes it: not blank, one line (exit 2 otherwise)."""
    stripped = title.strip()
    if not stripped:
        raise CliError("the title must not be empty", ExitCode.USAGE)
    if "\n" in stripped or "\r" in stripped:
        raise CliError("the title must be one line; put the rest in --body", ExitCode.USAGE)
    return stripped


@ticket_app.command("list")
def list_(
    ctx: typer.Context,
    state: Annotated[
        State | None,
        typer.Option("--state", help="open (the default: not done or cancelled), closed or all."),
    ] = None,
    status: Annotated[
        list[Status] | None,
        typer.Option("-s", "--status", help="Only these statuses (repeatable)."),
    ] = None,
    kind: KindOption = None,
    priority: PriorityOption = None,
    assignee: Annotated[
        str | None,
        typer.Option("--assignee", help=f"Only tickets of {PERSON_HELP}, 'agent' or 'none'."),
    ] = None,
    search: Annotated[
        str | None,
        typer.Option("-S", "--search", help="Only tickets whose text holds these words."),
    ] = None,
    sort: Annotated[
        Sort, typer.Option("--sort", help="Order by number, created, updated, priority, status.")
    ] = Sort.number,
    order: Annotated[
        Order | None,
        typer.Option("--order", help="asc or desc (default: newest first for times, else asc)."),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many.", min=1)] = None,
    offset: Annotated[int | None, typer.Option("--offset", help="Skip this many.", min=0)] = None,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """List the open tickets (alias: ls); --state closed|all for the others."""
    query = ListQuery(state, status, kind, priority, assignee, search, sort, order, limit, offset)
    list_tickets(CliContext.of(ctx), query, as_json, fields)


ticket_app.command("ls", hidden=True)(list_)


def _body_text(description: str | None, body_file: str | None, interactive: bool) -> str | None:
    """The description from --body, --body-file (``-``: stdin) or, on a terminal, $EDITOR."""
    if description is not None and body_file is not None:
        raise CliError("give --body or --body-file, not both", ExitCode.USAGE)
    if body_file is None:
        return text_or_editor(description, interactive, "Describe the ticket in markdown.")
    if body_file == "-":
        return read_text_arg("-")
    from pathlib import Path

    try:
        return Path(body_file).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {body_file}: {exc}", ExitCode.USAGE) from exc


@ticket_app.command("create")
def create(
    ctx: typer.Context,
    title_arg: Annotated[
        str | None, typer.Argument(metavar="[TITLE]", help="One-line title (or --title).")
    ] = None,
    title: Annotated[str | None, typer.Option("-t", "--title", help="One-line title.")] = None,
    description: DescriptionOption = None,
    body_file: Annotated[
        str | None,
        typer.Option(
            "--body-file", metavar="FILE", help="Read the description from FILE ('-': stdin)."
        ),
    ] = None,
    kind: KindOption = None,
    priority: PriorityOption = None,
    status: Annotated[Status | None, typer.Option("--status", help="Initial status.")] = None,
    assignee: Annotated[
        str | None, typer.Option("--assignee", help=f"Assign to {PERSON_HELP}, or 'agent'.")
    ] = None,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """File a ticket (alias: new); piped, prints just its number.

    Without a title on a terminal it is asked for; without --body, $EDITOR opens for the
    description.
    """
    cli = CliContext.of(ctx)
    if title is not None and title_arg is not None and title != title_arg:
        raise CliError("give the title once: as TITLE or as --title", ExitCode.USAGE)
    given = title if title is not None else title_arg
    if given is None:
        if not cli.streams.interactive:
            raise CliError(
                "a title is needed: `codality ticket create --title TEXT`", ExitCode.USAGE
            )
        given = str(typer.prompt("Title", err=True))
    chosen_title = one_line_title(given)
    described = _body_text(description, body_file, cli.streams.interactive)
    body: dict[str, Any] = {"title": chosen_title, "description": described or ""}
    for key, value in (("kind", kind), ("priority", priority), ("status", status)):
        if value is not None:
            body[key] = value.value

    async def file(api: ApiClient, slug: str) -> Ticket:
        if assignee is not None:
            body["assignee"] = await assignee_value(api, assignee)
        return await api.tickets.create(slug, body)

    ticket = cli.run_in_project(file)
    out = cli.output(as_json, fields)
    if not out.as_json and not cli.streams.out_tty:
        cli.streams.write(f"{ticket['number']}\n")
    out.done(f"created ticket #{ticket['number']}: {ticket['title']}", ticket)


ticket_app.command("new", hidden=True)(create)


@ticket_app.command("show")
def show(
    ctx: typer.Context,
    number: NumberArgument,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Show a ticket and its description (alias: view)."""
    views.show(CliContext.of(ctx), number, as_json, fields)


ticket_app.command("view", hidden=True)(show)


@ticket_app.command("edit")
def edit(
    ctx: typer.Context,
    number: NumberArgument,
    title: Annotated[str | None, typer.Option("-t", "--title", help="New title.")] = None,
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
        changes["title"] = one_line_title(title)
    if description is not None:
        changes["description"] = read_text_arg(description)
    if kind is not None:
        changes["kind"] = kind.value
    if priority is not None:
        changes["priority"] = priority.value

    async def update(api: ApiClient, slug: str) -> Ticket:
        if not changes:
            if not cli.streams.interactive:
                raise CliError(
                    "nothing to change: pass --title, --body, --kind or --priority",
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
        typer.Argument(help="The new status; without it, show the ticket's status."),
    ] = None,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Move a ticket to another column, or show where it is (its agent's runs: `ticket runs`)."""
    cli = CliContext.of(ctx)
    if status is None:
        views.show_status(cli, number, as_json, fields)
        return
    ticket = cli.run_in_project(
        lambda api, slug: api.tickets.set_status(slug, number, status.value)
    )
    now = state_words(ticket["status"])
    cli.output(as_json, fields).done(f"ticket #{number} is now {now}", ticket)


def _move(
    cli: CliContext, number: int, to: Status, unless: tuple[Status, ...], verb: str
) -> tuple[Ticket, str]:
    """Move a ticket to ``to`` unless it already is in one of ``unless`` (then say so)."""

    async def move(api: ApiClient, slug: str) -> tuple[Ticket, bool]:
        ticket = await api.tickets.get(slug, number)
        if ticket["status"] in unless:
            return ticket, False
        return await api.tickets.set_status(slug, number, to.value), True

    ticket, moved = cli.run_in_project(move)
    if moved:
        return ticket, f"{verb} ticket #{number} ({state_words(ticket['status'])})"
    return ticket, f"ticket #{number} is already {state_words(ticket['status'])}"


@ticket_app.command("close")
def close(
    ctx: typer.Context,
    number: NumberArgument,
    cancel: Annotated[
        bool, typer.Option("--cancel", help="Close it as cancelled (not planned), not done.")
    ] = False,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Close a ticket: done, or cancelled with --cancel."""
    cli = CliContext.of(ctx)
    to = Status.cancelled if cancel else Status.done
    ticket, said = _move(cli, number, to, (to,), "closed")
    cli.output(as_json, fields).done(said, ticket)


@ticket_app.command("reopen")
def reopen(
    ctx: typer.Context,
    number: NumberArgument,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Reopen a done or cancelled ticket (back to the backlog)."""
    cli = CliContext.of(ctx)
    ticket, said = _move(cli, number, Status.backlog, OPEN_STATUSES, "reopened")
    cli.output(as_json, fields).done(said, ticket)


@ticket_app.command("assign")
def assign(
    ctx: typer.Context,
    number: NumberArgument,
    who: Annotated[str, typer.Argument(help=f"{PERSON_HELP}, 'agent' or 'none'.")],
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Assign a ticket to a person or to the agent ('none' unassigns it)."""
    cli = CliContext.of(ctx)

    async def assign_(api: ApiClient, slug: str) -> Ticket:
        return await api.tickets.assign(slug, number, await assignee_value(api, who))

    ticket = cli.run_in_project(assign_)
    target = assignee_label(ticket) or "nobody"
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
