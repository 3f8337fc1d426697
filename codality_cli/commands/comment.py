"""``codality ticket comment | comments``: the conversation on a ticket (a comment posted while the
agent runs reaches the agent too)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..context import CliContext
from ..editor import text_or_editor
from ..errors import CliError, ExitCode
from ..options import FieldsOption, JsonOption
from ..output import Column
from .ticket import NumberArgument, ticket_app

COMMENT_COLUMNS = [
    Column("id", "id"),
    Column("author", "author", lambda c: _author(c)),
    Column("created", "created_at"),
    Column("body", "body"),
]


def _author(comment: dict[str, object]) -> object:
    author = comment.get("author")
    if isinstance(author, dict):
        return author.get("name") or author.get("email") or author.get("kind")
    return author or comment.get("author_kind")


@ticket_app.command("comment")
def comment(
    ctx: typer.Context,
    number: NumberArgument,
    body: Annotated[
        str | None, typer.Argument(help="Markdown text; '-' reads stdin; omitted: $EDITOR.")
    ] = None,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Comment on a ticket."""
    cli = CliContext.of(ctx)
    text = text_or_editor(body, cli.streams.interactive, "Write your comment in markdown.")
    if not text:
        raise CliError(
            "empty comment: give the text, '-' for stdin, or use a terminal", ExitCode.USAGE
        )
    created = cli.run_in_project(lambda api, slug: api.comments.create(slug, number, text))
    cli.output(as_json, fields).done(f"commented on ticket #{number}", created)


@ticket_app.command("comments")
def comments(
    ctx: typer.Context,
    number: NumberArgument,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """List the comments on a ticket, oldest first."""
    cli = CliContext.of(ctx)
    found = cli.run_in_project(lambda api, slug: api.comments.list(slug, number))
    cli.output(as_json, fields).items(found, COMMENT_COLUMNS)
