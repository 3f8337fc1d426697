"""Work queues: their columns, finding one by id or name, and ``queue list | show``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import CliError, ExitCode
from ..output import Column

if TYPE_CHECKING:
    from ..api import ApiClient
    from ..api.models import QueueView
    from ..context import CliContext


def progress(queue: QueueView) -> str:
    """``2/5 done`` (plus failures, when there are any)."""
    counts = queue["progress"]
    text = f"{counts['done']}/{counts['total']} done"
    if counts["failed"]:
        text += f", {counts['failed']} failed"
    return text


def ticket_list(queue: QueueView) -> str:
    return " ".join(f"#{item['ticket']}" for item in queue["items"])


QUEUE_COLUMNS = [
    Column("id", "id"),
    Column("name", "name"),
    Column("status", "status"),
    Column("progress", "progress", progress),
    Column("tickets", "items", ticket_list),
    Column("updated", "updated_at"),
]
QUEUE_FIELDS = [
    Column("id", "id"),
    Column("name", "name"),
    Column("status", "status"),
    Column("reason", "reason"),
    Column("progress", "progress", progress),
    Column("merge each", "merge_each"),
    Column("max parallel", "max_parallel"),
    Column("created", "created_at"),
    Column("started", "started_at"),
    Column("ended", "ended_at"),
]
ITEM_COLUMNS = [
    Column("#", "ticket"),
    Column("title", "title"),
    Column("status", "status"),
    Column("session", "session"),
    Column("started", "started_at"),
    Column("ended", "ended_at"),
    Column("error", "error"),
]


async def find_queue(api: ApiClient, slug: str, which: str) -> QueueView:
    """A queue by id, else by name (case-insensitive); a name shared by several is an error."""
    if which.isdigit():
        return await api.queues.get(slug, int(which))
    queues = await api.queues.list(slug)
    named = [q for q in queues if q["name"].casefold() == which.casefold()]
    if len(named) == 1:
        return named[0]
    if named:
        ids = ", ".join(str(q["id"]) for q in named)
        raise CliError(
            f"{len(named)} queues are named {which!r} (ids {ids}); give the id", ExitCode.USAGE
        )
    names = ", ".join(f"{q['id']} {q['name']!r}" for q in queues) or "none yet"
    raise CliError(f"no queue {which!r} in {slug} (queues: {names})", ExitCode.NOT_FOUND)


def list_queues(cli: CliContext, as_json: bool, fields: str | None) -> None:
    queues = cli.run_in_project(lambda api, slug: api.queues.list(slug))
    cli.output(as_json, fields).items(queues, QUEUE_COLUMNS)


def show_queue(cli: CliContext, queue: QueueView, as_json: bool, fields: str | None) -> None:
    output = cli.output(as_json, fields)
    if output.as_json:
        output.item(queue, QUEUE_FIELDS)
        return
    output.item(queue, QUEUE_FIELDS, body=queue["description"] or None)
    if cli.streams.out_tty:
        cli.streams.write("\n")
    output.items(queue["items"], ITEM_COLUMNS)


def show(cli: CliContext, which: str, as_json: bool, fields: str | None) -> None:
    """``queue show``: the queue, then where each of its tickets stands."""
    found = cli.run_in_project(lambda api, slug: find_queue(api, slug, which))
    show_queue(cli, found, as_json, fields)
