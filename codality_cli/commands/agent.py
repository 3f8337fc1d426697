"""``codality ticket start | stop | runs | say | watch``: the agent on a ticket.

``start`` and ``watch`` stream the run (text on stdout; thinking, tool lines and the summary on
stderr) until the session ends; Ctrl-C only detaches, the agent keeps running in the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..agent_stream import TERMINAL_STATUSES, AgentPrinter
from ..context import CliContext
from ..errors import CliError, ExitCode
from ..options import FieldsOption, JsonOption
from ..views import runs as views
from .ticket import NumberArgument, ticket_app

if TYPE_CHECKING:
    from ..api import ApiClient
    from ..api.models import Ticket

# One try a second: long enough for a server to restart (`codality settings restart` waits 30 s).
RECONNECT_TRIES = 30
NoThinking = Annotated[
    bool, typer.Option("--no-thinking", help="Hide the model's thinking (shown dimmed).")
]


async def follow(
    api: ApiClient,
    slug: str,
    ticket: Ticket,
    session_id: int,
    printer: AgentPrinter,
    after: int | None,
) -> Mapping[str, Any]:
    """Print the session's live events after event id ``after`` until it stops.

    A broken stream is announced on stderr and resumed, wherever the local server listens now.
    After every reconnect the session itself is read again: a server that restarted meanwhile
    marked it interrupted, and the stop event of the old server is never coming.
    """
    channel = f"ticket:{ticket['id']}"
    ended: dict[str, Any] = {}

    async def still_running() -> bool:
        session = await api.agent.session(slug, int(ticket["number"]), session_id)
        if session.get("status") in TERMINAL_STATUSES:
            ended.update(session)
            return False
        return True

    async for event in api.events.subscribe(
        [channel],
        last_event_id=after,
        retries=RECONNECT_TRIES,
        on_reconnect=still_running,
        on_lost=printer.connection_lost,
    ):
        data = event.data if isinstance(event.data, dict) else {}
        if not event.type.startswith("agent:") or data.get("session_id") != session_id:
            continue
        stopped = printer.event(event.type, data)
        if stopped is not None:
            return stopped
    if ended:
        printer.event("agent:stopped", ended)
        return ended
    raise CliError("the event stream ended before the session did", ExitCode.UNREACHABLE)


def _detach_hint(cli: CliContext, number: int) -> None:
    cli.streams.message(
        f"\ndetached; the agent keeps working. Follow it with `codality ticket watch {number}`"
        f" or stop it with `codality ticket stop {number}`."
    )


def stream_session(
    cli: CliContext, number: int, printer: AgentPrinter, call: Any
) -> dict[str, Any]:
    """Run ``call`` (which follows a session to its end); Ctrl-C detaches with a hint."""
    try:
        result: dict[str, Any] = cli.run_in_project(call, stream=True)
    except KeyboardInterrupt:
        printer.finish()
        _detach_hint(cli, number)
        raise typer.Exit(130) from None
    return result


def exit_for(session: Mapping[str, Any]) -> None:
    if session.get("status") != "completed":
        raise typer.Exit(int(ExitCode.AGENT_UNSUCCESSFUL))


@ticket_app.command("start")
def start(
    ctx: typer.Context,
    number: NumberArgument,
    message: Annotated[
        str | None, typer.Option("-m", "--message", help="Extra instructions for this run.")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="Override the model.")] = None,
    max_turns: Annotated[
        int | None,
        typer.Option(
            "--max-turns", min=1, help="Stop the run after this many model calls (this run only)."
        ),
    ] = None,
    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost",
            min=0.01,
            help="Stop the run at this many US dollars: before a call whose input would pass"
            " it, else after the call that does (this run only).",
        ),
    ] = None,
    detach: Annotated[
        bool, typer.Option("--detach", help="Return at once; the agent runs in the server.")
    ] = False,
    no_thinking: NoThinking = False,
    as_json: JsonOption = False,
) -> None:
    """Start the agent on a ticket and stream its run (exit 0 on completed, 7 otherwise).

    A run stops (status stopped) at the settings' max_turns_per_run / max_cost_per_run_usd, or at
    --max-turns / --max-cost when given.
    """
    cli = CliContext.of(ctx)
    # With --json, stdout carries only the final session, so the streamed text moves to stderr.
    printer = AgentPrinter(cli.streams, not no_thinking, text_on_stderr=as_json)

    async def run(api: ApiClient, slug: str) -> Mapping[str, Any]:
        ticket = await api.tickets.get(slug, number)
        session = await api.agent.start(slug, number, message, model, max_turns, max_cost)
        if detach:
            return session
        # The run began a moment ago: replay the ring and keep this session's events only.
        return await follow(api, slug, ticket, int(session["id"]), printer, 0)

    # Detached, nothing is streamed: the one-shot transport, without asyncio, will do.
    session = cli.run_in_project(run) if detach else stream_session(cli, number, printer, run)
    if detach:
        cli.output(as_json).done(
            f"agent started on ticket #{number} (session {session['id']}); "
            f"follow it with `codality ticket watch {number}`",
            session,
        )
        return
    if as_json:
        cli.output(True).json(session)
    exit_for(session)


@ticket_app.command("watch")
def watch(
    ctx: typer.Context,
    number: NumberArgument,
    session: Annotated[
        int | None,
        typer.Option(
            "--session", help="Replay this earlier run (ids: `codality ticket runs N`).", min=1
        ),
    ] = None,
    no_thinking: NoThinking = False,
) -> None:
    """Show the current (or last) run's transcript so far, then follow it live.

    Replayed, a run prints the same lines `ticket start` printed while it ran.
    """
    cli = CliContext.of(ctx)
    printer = AgentPrinter(cli.streams, show_thinking=not no_thinking)

    async def run(api: ApiClient, slug: str) -> Mapping[str, Any]:
        session_id = session
        if session_id is None:
            status = await api.agent.status(slug, number)
            if status["session"] is None:
                raise CliError(f"the agent has never run on ticket #{number}", ExitCode.NOT_FOUND)
            session_id = int(status["session"]["id"])
        stored = await api.agent.session(slug, number, session_id)
        ticket = await api.tickets.get(slug, number)  # before printing: then only the stream
        printer.event("agent:started", stored)
        printer.transcript(stored["transcript"])
        if stored["status"] in TERMINAL_STATUSES:
            printer.event("agent:stopped", stored)
            return stored
        return await follow(api, slug, ticket, session_id, printer, stored["last_event_id"])

    exit_for(stream_session(cli, number, printer, run))


@ticket_app.command("runs")
def runs(
    ctx: typer.Context,
    number: NumberArgument,
    as_json: JsonOption = False,
    fields: FieldsOption = None,
) -> None:
    """The agent's current and past runs on a ticket (replay one with `ticket watch --session`)."""
    views.runs(CliContext.of(ctx), number, as_json, fields)


@ticket_app.command("stop")
def stop(ctx: typer.Context, number: NumberArgument, as_json: JsonOption = False) -> None:
    """Stop the agent running on a ticket (its worktree keeps the changes)."""
    cli = CliContext.of(ctx)
    session = cli.run_in_project(lambda api, slug: api.agent.stop(slug, number))
    cli.output(as_json).done(f"stopped the agent on ticket #{number}", session)


@ticket_app.command("say")
def say(
    ctx: typer.Context,
    number: NumberArgument,
    text: Annotated[str, typer.Argument(help="The message for the running agent.")],
    queue: Annotated[
        bool,
        typer.Option("--queue", help="Deliver when the agent ends its turn, not after its tool."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Send a message to the agent running on a ticket (steers it, or --queue)."""
    cli = CliContext.of(ctx)
    mode = "queue" if queue else "steer"
    sent = cli.run_in_project(lambda api, slug: api.agent.message(slug, number, text, mode))
    cli.output(as_json).done(f"message delivered to the agent on ticket #{number} ({mode})", sent)
