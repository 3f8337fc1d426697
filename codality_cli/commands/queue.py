"""``codality queue …``: work queues — tickets the agent works through, one after another.

A queue is named by its id or its name (``queue show 2``, ``queue show "Night run"``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..agent_stream import AgentPrinter
from ..context import CliContext
from ..editor import read_text_arg
from ..errors import CliError, ExitCode
from ..options import FieldsOption, JsonOption, YesOption
from ..queue_stream import FINAL_STATUSES, QueueFollower
from ..views import queues as views
from ..views.queues import find_queue, progress, ticket_list
from .agent import NoThinking

if TYPE_CHECKING:
    from ..api import ApiClient
    from ..api.models import QueueView

app = typer.Typer(
    help="Work queues: tickets the agent works through, one after another.", no_args_is_help=True
)


QueueArgument = Annotated[str, typer.Argument(help="Queue id or name.", metavar="QUEUE")]
MergeEach = Annotated[
    bool | None,
    typer.Option(
        "--merge-each/--no-merge-each",
        help="Merge each completed ticket before the next starts (a conflict pauses the queue).",
    ),
]
MaxParallel = Annotated[
    int | None,
    typer.Option(
        "--max-parallel",
        min=1,
        help="Tickets that do not depend on each other may run side by side, up to this many.",
    ),
]


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonOption = False, fields: FieldsOption = None) -> None:
    """List the project's work queues."""
    views.list_queues(CliContext.of(ctx), as_json, fields)


@app.command("show")
def show(
    ctx: typer.Context,
    queue: QueueArgument,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Show a queue and where each of its tickets stands."""
    views.show(CliContext.of(ctx), queue, as_json, fields)


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for the queue.")],
    tickets: Annotated[list[int], typer.Argument(help="Ticket numbers, in the order to work.")],
    description: Annotated[
        str | None,
        typer.Option("-d", "--description", help="What the queue is for; '-' reads stdin."),
    ] = None,
    merge_each: MergeEach = None,
    max_parallel: MaxParallel = None,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Make a queue of tickets: `codality queue create "Night run" 3 5 8`."""
    cli = CliContext.of(ctx)
    body: dict[str, Any] = {"name": name, "tickets": tickets}
    text = read_text_arg(description)
    if text is not None:
        body["description"] = text
    if merge_each is not None:
        body["merge_each"] = merge_each
    if max_parallel is not None:
        body["max_parallel"] = max_parallel
    made = cli.run_in_project(lambda api, slug: api.queues.create(slug, body))
    cli.output(as_json, fields).done(
        f"created queue {made['id']} {made['name']!r}: {ticket_list(made)}; start it with"
        f" `codality queue start {made['id']}`",
        made,
    )


@app.command("edit")
def edit(
    ctx: typer.Context,
    queue: QueueArgument,
    tickets: Annotated[
        list[int] | None,
        typer.Argument(help="The full new order of tickets (pending ones may come and go)."),
    ] = None,
    add: Annotated[
        list[int] | None, typer.Option("--add", help="Append this ticket (repeatable).")
    ] = None,
    remove: Annotated[
        list[int] | None,
        typer.Option("--remove", help="Take this pending ticket out (repeatable)."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    description: Annotated[
        str | None, typer.Option("-d", "--description", help="New description; '-' reads stdin.")
    ] = None,
    merge_each: MergeEach = None,
    max_parallel: MaxParallel = None,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """Rename a queue, change its options, or reorder, add and remove its pending tickets."""
    cli = CliContext.of(ctx)
    changes: dict[str, Any] = {}
    for key, value in (
        ("name", name),
        ("description", read_text_arg(description)),
        ("merge_each", merge_each),
        ("max_parallel", max_parallel),
    ):
        if value is not None:
            changes[key] = value

    async def update(api: ApiClient, slug: str) -> QueueView:
        found = await find_queue(api, slug, queue)
        if tickets or add or remove:
            order = list(tickets) if tickets else [int(i["ticket"]) for i in found["items"]]
            order += [number for number in add or [] if number not in order]
            changes["tickets"] = [number for number in order if number not in (remove or [])]
        if not changes:
            raise CliError(
                "nothing to change: give tickets, --add, --remove, --name, --description,"
                " --merge-each or --max-parallel",
                ExitCode.USAGE,
            )
        return await api.queues.update(slug, int(found["id"]), changes)

    edited = cli.run_in_project(update)
    cli.output(as_json, fields).done(
        f"updated queue {edited['id']} {edited['name']!r}: {ticket_list(edited)}", edited
    )


@app.command("delete")
def delete(ctx: typer.Context, queue: QueueArgument, yes: YesOption = False) -> None:
    """Delete a queue that is not running (its tickets and their work stay)."""
    cli = CliContext.of(ctx)
    cli.confirm(f"Delete queue {queue}?", yes, "delete a queue")

    async def delete_(api: ApiClient, slug: str) -> str:
        found = await find_queue(api, slug, queue)
        await api.queues.delete(slug, int(found["id"]))
        return f"deleted queue {found['id']} {found['name']!r}"

    cli.streams.message(cli.run_in_project(delete_))


# One try a second: long enough for a server to restart.
RECONNECT_TRIES = 30


async def follow_queue(
    api: ApiClient, slug: str, queue: QueueView, printer: AgentPrinter
) -> QueueView:
    """Stream the queue's runs, one ticket after another, until it stops; returns it then."""
    follower = QueueFollower(queue, printer)

    async def still_running() -> bool:
        current = await api.queues.get(slug, follower.queue_id)
        if current["status"] in FINAL_STATUSES:
            follower.final = current
            return False
        return True

    channel = f"project:{queue['project_id']}"
    # The queue started a moment ago: replay the ring; the follower keeps this start's runs.
    async for event in api.events.subscribe(
        [channel],
        last_event_id=0,
        retries=RECONNECT_TRIES,
        on_reconnect=still_running,
        on_lost=printer.connection_lost,
    ):
        data = event.data if isinstance(event.data, dict) else {}
        if follower.event(event.type, data):
            break
    follower.finish()
    if follower.final is None:
        raise CliError("the event stream ended before the queue stopped", ExitCode.UNREACHABLE)
    return follower.final


def outcome(queue: QueueView) -> str:
    """``queue 1 'Night run' completed: 3/3 done`` (with the reason when it stopped early)."""
    line = f"queue {queue['id']} {queue['name']!r} {queue['status']}: {progress(queue)}"
    return f"{line} — {queue['reason']}" if queue["reason"] else line


@app.command("start")
def start(
    ctx: typer.Context,
    queue: QueueArgument,
    follow: Annotated[
        bool,
        typer.Option(
            "-f",
            "--follow",
            help="Stream each ticket's run in turn until the queue stops (exit 0 when it"
            " completes, 7 when it pauses or is cancelled).",
        ),
    ] = False,
    no_thinking: NoThinking = False,
    as_json: JsonOption = False,
) -> None:
    """Start a pending queue: the agent works its tickets one after another, in the server."""
    cli = CliContext.of(ctx)
    printer = AgentPrinter(cli.streams, not no_thinking, text_on_stderr=as_json)

    async def run(api: ApiClient, slug: str) -> QueueView:
        found = await find_queue(api, slug, queue)
        started = await api.queues.start(slug, int(found["id"]))
        if not follow:
            return started
        cli.streams.message(f"started queue {started['id']} {started['name']!r}")
        return await follow_queue(api, slug, started, printer)

    try:
        result = cli.run_in_project(run, stream=follow)
    except KeyboardInterrupt:
        printer.finish()
        cli.streams.message(
            f"\ndetached; the queue keeps running. See it with `codality queue show {queue}`"
            f" or cancel it with `codality queue cancel {queue}`."
        )
        raise typer.Exit(130) from None
    if not follow:
        running = " ".join(f"#{i['ticket']}" for i in result["items"] if i["status"] == "running")
        cli.output(as_json).done(
            f"started queue {result['id']} {result['name']!r}: {running or 'nothing'} running;"
            f" follow it with `codality queue show {result['id']}`",
            result,
        )
        return
    cli.streams.message(outcome(result))
    if as_json:
        cli.output(True).json(result)
    if result.get("status") != "completed":
        raise typer.Exit(int(ExitCode.AGENT_UNSUCCESSFUL))


@app.command("cancel")
def cancel(
    ctx: typer.Context, queue: QueueArgument, yes: YesOption = False, as_json: JsonOption = False
) -> None:
    """Cancel a running or paused queue; its running agents are stopped."""
    cli = CliContext.of(ctx)
    cli.confirm(f"Cancel queue {queue} and stop its running agents?", yes, "cancel a queue")

    async def cancel_(api: ApiClient, slug: str) -> QueueView:
        found = await find_queue(api, slug, queue)
        return await api.queues.cancel(slug, int(found["id"]))

    cancelled = cli.run_in_project(cancel_)
    cli.output(as_json).done(outcome(cancelled), cancelled)


@app.command("release")
def release(ctx: typer.Context, queue: QueueArgument, as_json: JsonOption = False) -> None:
    """Put a paused, cancelled or completed queue back to pending (done tickets stay done)."""
    cli = CliContext.of(ctx)

    async def release_(api: ApiClient, slug: str) -> QueueView:
        found = await find_queue(api, slug, queue)
        return await api.queues.release(slug, int(found["id"]))

    released = cli.run_in_project(release_)
    cli.output(as_json).done(
        f"{outcome(released)}; start it with `codality queue start {released['id']}`", released
    )
