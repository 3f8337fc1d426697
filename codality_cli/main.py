"""The ``codality`` command: global options, the noun sub-apps, and ``run()``.

Only typer and stdlib are imported at module level, here and in every module this one imports;
httpx, rich, keyring and platformdirs load inside the commands that use them, so ``--help`` and
completion stay fast (tests/test_import_hygiene.py checks it).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from . import __version__
from .commands import (
    api_cmd,
    auth,
    board,
    comment,
    completion,
    demo,
    events,
    me,
    project,
    server,
    settings,
    ticket,
    user,
)
from .context import CliContext
from .errors import CliError, ExitCode
from .settings import CliSettings
from .streams import Streams

# Modules that add verbs to ``ticket_app``: ``comment`` here; the agent and review parts' own
# modules when they are present.
TICKET_VERBS = (comment,)
TICKET_EXTENSIONS = ("codality_cli.commands.agent", "codality_cli.commands.review")

app = typer.Typer(
    name="codality",
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    # Bare ``codality`` opens the board on a terminal and prints this help otherwise (``root``).
    no_args_is_help=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"codality {__version__}\n")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    server_url: Annotated[
        str | None,
        typer.Option(
            "--server",
            metavar="URL",
            help="A remote server (default: CODALITY_URL, else the local one).",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            metavar="DIR",
            help="The local data dir (default: CODALITY_DATA_DIR, else the platform's).",
        ),
    ] = None,
    project_slug: Annotated[
        str | None,
        typer.Option(
            "-p",
            "--project",
            metavar="SLUG",
            help="The project (default: CODALITY_PROJECT, else the one holding the cwd).",
        ),
    ] = None,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colour (also: NO_COLOR).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Codality: tickets, AI agents and reviews for your git repositories, from the terminal.

    Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 authentication needed,
    5 server unreachable, 6 conflict, 7 agent session ended unsuccessfully.
    """
    settings_ = CliSettings.load(
        data_dir=data_dir, server=server_url, project=project_slug, no_color=no_color
    )
    # Tests may hand in Streams (to say which stream is a terminal); otherwise the process's.
    streams = ctx.obj if isinstance(ctx.obj, Streams) else Streams.system(settings_.no_color)
    streams.no_color = settings_.no_color or streams.no_color
    ctx.obj = CliContext(settings_, streams)
    if ctx.invoked_subcommand is None and not ctx.resilient_parsing:
        if streams.out_tty and sys.stdin.isatty():
            board.open_board(ctx.obj, settings_.project)
        else:
            streams.write(ctx.get_help() + "\n")
        raise typer.Exit()


app.add_typer(server.app, name="server")
auth.register(app)
app.add_typer(project.app, name="project")
app.add_typer(ticket.ticket_app, name="ticket")
app.add_typer(user.app, name="user")
app.add_typer(me.app, name="me")
app.add_typer(settings.app, name="settings")
events.register(app)
board.register(app)
api_cmd.register(app)
completion.register(app)
demo.register(app)

for _module in TICKET_EXTENSIONS:
    importlib.import_module(_module)


def run() -> None:
    """Console-script entry point: never a traceback, always a documented exit code."""
    try:
        app(prog_name="codality")
    except CliError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the last line of defence: one readable line
        sys.stderr.write(f"error: {type(exc).__name__}: {exc}\n")
        sys.exit(ExitCode.ERROR)
