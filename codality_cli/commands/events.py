"""``codality events``: the raw event stream as JSON lines, for scripts and debugging."""

from __future__ import annotations

import json
from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer

from ..agent_stream import CONNECTION_LOST
from ..context import CliContext
from ..errors import CliError, ExitCode

if TYPE_CHECKING:
    from ..api import ApiClient

# Channels by the id the API streams them under; tickets and projects are named as elsewhere
# in the CLI (a ticket's number in the current project, a project's slug) and resolved here.
ID_CHANNELS = ("plan", "queue", "conversation")
CHANNEL_HELP = "ticket:NUMBER, project:SLUG, plan:ID, queue:ID, conversation:ID or *"


def _bad_channel(spec: str) -> CliError:
    return CliError(f"--channel {spec!r}: give {CHANNEL_HELP}", ExitCode.USAGE)


def check_channel(spec: str) -> tuple[str, str]:
    """``ticket:3`` → (``ticket``, ``3``), checked without the server; ``*`` is every channel."""
    if spec == "*":
        return "*", ""
    kind, sep, name = spec.partition(":")
    if not sep or not name or kind not in ("ticket", "project", *ID_CHANNELS):
        raise _bad_channel(spec)
    if kind != "project" and not name.isdigit():
        raise _bad_channel(spec)
    return kind, name


async def resolve_channel(cli: CliContext, api: ApiClient, spec: str) -> str:
    """The API's channel for ``spec``: a ticket number becomes that ticket's id in the current
    project (a missing ticket is "not found" now, not a stream that stays silent)."""
    kind, name = check_channel(spec)
    if kind == "ticket":
        ticket = await api.tickets.get(await cli.project(api), int(name))
        return f"ticket:{ticket['id']}"
    if kind == "project" and not name.isdigit():
        project = await api.projects.get(name)
        return f"project:{project['id']}"
    return spec


def events(
    ctx: typer.Context,
    channel: Annotated[
        list[str] | None,
        typer.Option(
            "-c",
            "--channel",
            metavar="CHANNEL",
            help=f"{CHANNEL_HELP} (repeatable; none: all).",
        ),
    ] = None,
    last_event_id: Annotated[
        int | None, typer.Option("--last-event-id", help="Replay what came after this id first.")
    ] = None,
    count: Annotated[
        int | None, typer.Option("-n", "--count", help="Stop after this many events.", min=1)
    ] = None,
) -> None:
    """Print events as JSON lines until interrupted; reconnects and resumes by id.

    A broken stream is announced on stderr ("connection lost — reconnecting") and resumed
    from the last id, wherever the local server listens now.
    """
    cli = CliContext.of(ctx)
    for spec in channel or ():
        check_channel(spec)

    async def follow(api: ApiClient) -> None:
        channels = [await resolve_channel(cli, api, spec) for spec in channel or ()]
        seen = 0
        lost = partial(cli.streams.message, CONNECTION_LOST)
        async for event in api.events.subscribe(channels, last_event_id, on_lost=lost):
            cli.streams.write(json.dumps(event.as_json(), ensure_ascii=False) + "\n")
            seen += 1
            if count is not None and seen >= count:
                return

    cli.run(follow, stream=True)


def register(app: typer.Typer) -> None:
    app.command("events")(events)
