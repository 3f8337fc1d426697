"""``codality tui`` and bare ``codality`` before any screen is drawn, and the ``:`` command line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from textual import events
from textual.pilot import Pilot

from codality_cli.tui.app import CodalityApp
from codality_cli.tui.command_line import Command, CommandError, parse
from codality_cli.tui.screens.board import BoardScreen
from codality_cli.tui.screens.command_line import CommandLineScreen
from codality_cli.tui.screens.discover import DiscoverScreen
from codality_cli.tui.screens.plans import PlansScreen
from codality_cli.tui.screens.queue import QueueScreen
from codality_cli.tui.screens.ticket import TicketScreen
from tests.cli.conftest import Cli, cli  # noqa: F401 - the CLI fixture
from tests.conftest import RunningServer, create_ticket

from .conftest import SIZE, notifications, wait_for_screen, wait_until


def test_bare_codality_off_a_terminal_prints_help(cli: Cli) -> None:  # noqa: F811
    ran = cli()
    assert ran.exit_code == 0, ran.stderr
    assert "Usage: codality" in ran.stdout and "tui" in ran.stdout


def test_tui_names_an_unknown_project_before_drawing_anything(cli: Cli) -> None:  # noqa: F811
    ran = cli("tui", "--project", "no-such-project")
    assert ran.exit_code == 3, (ran.stdout, ran.stderr)
    assert "no-such-project" in ran.stderr


def test_tui_help_describes_the_board(server: RunningServer, cli: Cli) -> None:  # noqa: F811
    ran = cli("tui", "--help")
    assert ran.exit_code == 0
    assert "--project" in ran.stdout and "full-screen board" in ran.stdout


# ---- the ``:`` command line ------------------------------------------------------------------


def test_command_line_grammar() -> None:
    assert parse(":plans") == Command("plans")
    assert parse("pl") == Command("plans")  # any unique prefix
    assert parse(":q") == parse("q!") == parse("quit") == Command("quit")
    assert parse(":project shop") == Command("project", "shop")
    assert parse(":project") == Command("project")
    assert parse(":12") == parse("#12") == parse("open 12") == Command("open", "12")
    assert parse(":filter login bug") == Command("filter", "login bug")
    assert parse(" :Tickets ") == parse("board") == Command("tickets")
    for bad, says in (
        (":", "Type a command"),
        (":nope", "Unknown command :nope"),
        (":open", ":open needs number"),
        (":open soon", "takes a ticket number"),
        (":qu", ":qu could be :queues, :quit"),
    ):
        with pytest.raises(CommandError, match=says):
            parse(bad)


async def test_colon_commands_drive_the_app_from_any_screen(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    await create_ticket(api, slug, title="Open me by number")
    app = make_app(slug, follow=False)

    async def command(line: str) -> None:
        await pilot.press("colon")
        await wait_for_screen(pilot, app, CommandLineScreen)
        await pilot.press(*line, "enter")

    async with app.run_test(size=SIZE) as pilot:
        board = await wait_for_screen(pilot, app, BoardScreen)
        await command("plans")
        await wait_for_screen(pilot, app, PlansScreen)
        await command("queues")  # from the plans screen, straight to the queues
        await wait_for_screen(pilot, app, QueueScreen)
        await command("tickets")
        assert await wait_for_screen(pilot, app, BoardScreen) is board
        assert len(app.screen_stack) == 2  # the screens above the board were closed
        await command("discover")
        await wait_for_screen(pilot, app, DiscoverScreen)
        await command("1")
        ticket = await wait_for_screen(pilot, app, TicketScreen)
        assert ticket.number == 1
        await command("nonsense")
        told = ("warning", "Unknown command :nonsense — try :help for the list")
        await wait_until(pilot, lambda: told in notifications(app))
        await pilot.press("colon", *"tic", "escape")  # escape: nothing runs
        await wait_until(pilot, lambda: isinstance(app.screen, TicketScreen))
        await command("q")
        await wait_until(pilot, lambda: app._exit)


async def typed_at_once(pilot: Pilot[Any], text: str) -> None:
    """Every key of ``text`` queued in one go, as the driver does with one read of the
    terminal; unlike ``pilot.press``, nothing runs between two keys."""
    app = pilot.app
    for char in text:
        key = {":": "colon", "/": "slash", " ": "space", "\r": "enter"}.get(char, char)
        event = events.Key(key, char)
        event.set_sender(app)
        app.post_message(event)
    await pilot.pause()


async def test_keys_typed_right_after_colon_or_slash_all_count(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    await create_ticket(api, slug, title="First")
    await create_ticket(api, slug, title="Login page is blank")
    app = make_app(slug, follow=False)
    async with app.run_test(size=SIZE) as pilot:
        board = await wait_for_screen(pilot, app, BoardScreen)
        await wait_until(pilot, lambda: len(board.state.tickets) == 2)
        # A fast typist (or a script): the keys arrive in one read from the terminal, before
        # the prompt has even been drawn.
        await typed_at_once(pilot, ":open 2\r")
        ticket = await wait_for_screen(pilot, app, TicketScreen)
        assert ticket.number == 2
        await typed_at_once(pilot, ":tickets\r")
        assert await wait_for_screen(pilot, app, BoardScreen) is board
        await typed_at_once(pilot, "/login\r")
        await wait_until(pilot, lambda: board.state.needle == "login")
        assert board.current_ticket == 2
