"""``codality discover …``: conversations with the model about the code, and its proposals.

``chat`` (the REPL) and ``say`` live in ``commands/discover_chat.py``; they add their verbs to
``app`` when the command is built.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..context import CliContext
from ..errors import CliError, ExitCode
from ..options import FieldsOption, JsonOption, YesOption
from ..output import Column

if TYPE_CHECKING:
    from ..api import ApiClient
    from ..api.models import Action, ConversationWithMessages, Message
    from ..streams import Streams

app = typer.Typer(
    help="Discovery: talk with the model about the code; confirm what it proposes.",
    no_args_is_help=True,
)

COLUMNS = [
    Column("id", "id"),
    Column("title", "title"),
    Column("messages", "message_count"),
    Column("updated", "updated_at"),
]
ConversationArgument = Annotated[int, typer.Argument(help="Conversation id.", min=1)]
ActionArgument = Annotated[int, typer.Argument(help="Proposal (action) id.", min=1)]


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonOption = False, fields: FieldsOption = None) -> None:
    """List the project's conversations, most recently active first."""
    cli = CliContext.of(ctx)
    found = cli.run_in_project(lambda api, slug: api.discover.list(slug))
    cli.output(as_json, fields).items(found, COLUMNS)


@app.command("new")
def new(
    ctx: typer.Context,
    title: Annotated[
        str, typer.Argument(help="A title (default: named after the first message).")
    ] = "",
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Start a conversation; talk in it with `codality discover chat ID` or `discover say`."""
    cli = CliContext.of(ctx)
    made = cli.run_in_project(lambda api, slug: api.discover.create(slug, title))
    if not cli.output(as_json, fields).as_json:
        cli.streams.write(f"{made['id']}\n")
    cli.output(as_json, fields).done(f"created conversation {made['id']}", made)


def print_message(streams: Streams, message: Message) -> None:
    """A stored message as its reply streamed (``AgentPrinter``, the renderer of every session):
    text on stdout; tool calls, proposal cards and how the reply ended on stderr."""
    from ..agent_stream import AgentPrinter
    from ..discover_view import card_lines, chat_items

    console = streams.console("err")
    styles = {"user": "bold cyan", "card": "yellow", "ended": "dim italic"}
    printer = AgentPrinter(streams, show_thinking=False)
    for item in chat_items(message):
        if item[0] == "event":
            printer.event(*item[1])
            continue
        printer.finish()
        lines = card_lines(item[1]) if item[0] == "card" else [item[1]]
        for line in lines:
            console.print(line, style=styles[item[0]], markup=False, highlight=False)
    printer.finish()


@app.command("show")
def show(
    ctx: typer.Context,
    conversation: ConversationArgument,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Show a conversation: messages, tool calls, and proposals with their state."""
    cli = CliContext.of(ctx)
    found = cli.run_in_project(lambda api, slug: api.discover.get(slug, conversation))
    output = cli.output(as_json, fields)
    if output.as_json:
        output.json(output.select(found))
        return
    cli.streams.message(f"── {found['title'] or '(untitled)'} · conversation {found['id']}")
    for message in found["messages"]:
        print_message(cli.streams, message)


@app.command("rename")
def rename(
    ctx: typer.Context,
    conversation: ConversationArgument,
    title: Annotated[str, typer.Argument(help="The new title.")],
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Give a conversation a new title."""
    cli = CliContext.of(ctx)
    renamed = cli.run_in_project(lambda api, slug: api.discover.rename(slug, conversation, title))
    cli.output(as_json, fields).done(
        f"conversation {conversation} is now {renamed['title']!r}", renamed
    )


@app.command("delete")
def delete(
    ctx: typer.Context,
    conversation: ConversationArgument,
    yes: YesOption = False,
) -> None:
    """Delete a conversation with its messages (what its proposals made stays)."""
    cli = CliContext.of(ctx)
    cli.confirm(f"Delete conversation {conversation}?", yes, "delete a conversation")
    cli.run_in_project(lambda api, slug: api.discover.delete(slug, conversation))
    cli.streams.message(f"deleted conversation {conversation}")


def _parse_edits(raw: str) -> dict[str, Any]:
    try:
        edits = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CliError(f"--edits is not valid JSON: {exc}", ExitCode.USAGE) from None
    if not isinstance(edits, dict):
        raise CliError("--edits must be a JSON object of the proposal's fields", ExitCode.USAGE)
    return edits


def edit_proposal(proposal: dict[str, Any]) -> dict[str, Any]:
    """The proposal's JSON in ``$EDITOR``; the fields the user changed come back as edits."""
    from ..editor import edit_text

    text = edit_text(
        json.dumps(proposal, indent=2, ensure_ascii=False),
        "Edit the proposal's JSON; the changed fields replace the proposed ones.",
    )
    edited = _parse_edits(text)
    return {key: value for key, value in edited.items() if proposal.get(key) != value}


def find_action(conversation: ConversationWithMessages, action_id: int) -> Action:
    for message in conversation["messages"]:
        for action in message["actions"]:
            if action["id"] == action_id:
                return action
    raise CliError(
        f"conversation {conversation['id']} has no proposal {action_id}; see"
        f" `codality discover show {conversation['id']}`",
        ExitCode.NOT_FOUND,
    )


@app.command("confirm")
def confirm(
    ctx: typer.Context,
    conversation: ConversationArgument,
    action: ActionArgument,
    edit: Annotated[
        bool, typer.Option("--edit", help="Edit the proposal in $EDITOR first.")
    ] = False,
    edits: Annotated[
        str | None,
        typer.Option("--edits", metavar="JSON", help="Proposal fields to replace, as JSON."),
    ] = None,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Carry out a proposal: create its tickets, plan or queue, or apply its ticket update."""
    cli = CliContext.of(ctx)
    changes = _parse_edits(edits) if edits is not None else None

    async def run(api: ApiClient, slug: str) -> Action:
        nonlocal changes
        if edit:
            if not cli.streams.interactive:
                raise CliError("--edit needs a terminal; pass --edits JSON instead", ExitCode.USAGE)
            found = find_action(await api.discover.get(slug, conversation), action)
            changes = {**edit_proposal(found["proposal"]), **(changes or {})}
        return await api.discover.decide(slug, conversation, action, "confirm", changes or None)

    from ..discover_view import made_summary

    decided = cli.run_in_project(run)
    cli.output(as_json, fields).done(
        f"confirmed proposal {action}: {made_summary(decided) or 'done'}", decided
    )


@app.command("reject")
def reject(
    ctx: typer.Context,
    conversation: ConversationArgument,
    action: ActionArgument,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Turn a proposal down; nothing is made."""
    cli = CliContext.of(ctx)
    decided = cli.run_in_project(
        lambda api, slug: api.discover.decide(slug, conversation, action, "reject")
    )
    cli.output(as_json, fields).done(f"rejected proposal {action}", decided)
