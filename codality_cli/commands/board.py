"""``codality tui`` (and bare ``codality`` on a terminal): the full-screen board.

The server, the sign-in and the project are settled first through ``CliContext.run`` like any
command; then the Textual app gets its own client for its own event loop. Textual is imported
only here, inside the function, so ``import codality_cli.main`` never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ..context import CliContext
from ..errors import CliError, ExitCode

if TYPE_CHECKING:
    from ..api import ApiClient


def open_board(cli: CliContext, project: str | None = None) -> None:
    """Run the TUI on ``project`` (else the current one; a picker when there is none)."""

    async def prepare(api: ApiClient) -> tuple[str, str | None, str | None]:
        slug = project
        if slug is None:
            try:
                slug = await cli.project(api)
            except CliError as exc:
                if exc.exit_code != ExitCode.USAGE:
                    raise
        else:
            await api.projects.get(slug)  # a clear "not found" before the screen takes over
        return api.base_url, api.token, slug

    url, token, slug = cli.run(prepare)  # an unknown project is "not found" even off a terminal
    if not (cli.streams.out_tty and cli.streams.interactive):
        raise CliError(
            "the board needs a terminal (stdin, stdout and stderr); scripts use"
            " `codality ticket list` and the other commands",
            ExitCode.USAGE,
        )

    from ..api import ApiClient
    from ..tui.app import CodalityApp

    api = ApiClient(url, token, ca_cert=cli.settings.ca_cert, locate=cli.locator())
    CodalityApp(api, slug).run()


def tui(
    ctx: typer.Context,
    project: Annotated[
        str | None,
        typer.Option("-p", "--project", metavar="SLUG", help="The project to open."),
    ] = None,
) -> None:
    """Open the full-screen board.

    Live tickets and agents, transcripts, diff review. Bare `codality` on a terminal does the same.
    """
    cli = CliContext.of(ctx)
    open_board(cli, project or cli.settings.project)


def register(app: typer.Typer) -> None:
    app.command("tui")(tui)
