"""``codality events``: the raw event stream as JSON lines, for scripts and debugging."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from ..context import CliContext

if TYPE_CHECKING:
    from ..api import ApiClient


def events(
    ctx: typer.Context,
    channel: Annotated[
        list[str] | None,
        typer.Option("-c", "--channel", help="ticket:ID or project:ID (repeatable; none: all)."),
    ] = None,
    last_event_id: Annotated[
        int | None, typer.Option("--last-event-id", help="Replay what came after this id first.")
    ] = None,
    count: Annotated[
        int | None, typer.Option("-n", "--count", help="Stop after this many events.", min=1)
    ] = None,
) -> None:
    """Print events as JSON lines until interrupted; reconnects and resumes by id."""
    cli = CliContext.of(ctx)

    async def follow(api: ApiClient) -> None:
        seen = 0
        async for event in api.events.subscribe(channel or (), last_event_id):
            cli.streams.write(json.dumps(event.as_json(), ensure_ascii=False) + "\n")
            seen += 1
            if count is not None and seen >= count:
                return

    cli.run(follow, stream=True)


def register(app: typer.Typer) -> None:
    app.command("events")(events)
