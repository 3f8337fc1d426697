"""Notifications never cover a text input: the toast stack moves to the top right when the
bottom would cover one (the discovery chat's input, the ticket screen's message box, a form's
lower field), and stays at the bottom when the input is at the top (the board's filter)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from codality_cli.tui.app import CodalityApp
from codality_cli.tui.screens.board import BoardScreen
from codality_cli.tui.screens.discover import DiscoverScreen
from codality_cli.tui.screens.new_ticket import NewTicketScreen
from codality_cli.tui.screens.ticket import TicketScreen
from codality_cli.tui.toasts import ON_TOP, input_regions, stack_regions
from tests.conftest import RunningServer, create_ticket
from tests.tui.test_ticket import STARTED

from .conftest import publish_on_ticket, wait_for_screen, wait_until


def toast_regions(app: CodalityApp) -> list[Region]:
    return [t.region for t in app.screen.query("Toast") if t.region.area]


def covered(app: CodalityApp) -> list[Region]:
    """The screen's inputs that a toast covers."""
    toasts = toast_regions(app)
    return [i for i in input_regions(app.screen) if any(t.overlaps(i) for t in toasts)]


async def two_toasts(pilot: Pilot[Any], app: CodalityApp) -> None:
    app.notify("Agent finished on #1: added farewell() above greet() in src/app.py")
    app.notify("Queue 'Night run' completed", severity="warning")
    await wait_until(pilot, lambda: len(toast_regions(app)) == 2)
    await pilot.pause(0.1)  # (placed after the next refresh)


async def test_toasts_move_off_the_discovery_chat_input_at_the_bottom(
    project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    app = make_app(project["slug"], follow=False)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for_screen(pilot, app, BoardScreen)
        await pilot.press("c")
        screen = await wait_for_screen(pilot, app, DiscoverScreen)
        chat = screen.query_one("#chat-input", Input)
        chat.focus()
        await wait_until(pilot, lambda: chat.has_focus)
        await two_toasts(pilot, app)
        stacks = stack_regions(screen)
        assert stacks is not None
        assert stacks[0].overlaps(chat.region)  # at the bottom they would cover it
        await wait_until(pilot, lambda: screen.has_class(ON_TOP))
        await wait_until(pilot, lambda: not covered(app))
        assert all(t.y < chat.region.y for t in toast_regions(app))


async def test_toasts_stay_at_the_bottom_under_the_board_filter_and_off_a_form(
    project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    app = make_app(project["slug"], follow=False)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        board = await wait_for_screen(pilot, app, BoardScreen)
        await pilot.press("slash")
        await two_toasts(pilot, app)
        assert not board.has_class(ON_TOP)
        assert input_regions(board) and not covered(app)
        app.clear_notifications()
        await pilot.press("escape", "n")
        form = await wait_for_screen(pilot, app, NewTicketScreen)
        form.query_one("#description", TextArea).focus()
        await two_toasts(pilot, app)
        await wait_until(pilot, lambda: not covered(app))
        assert form.query_one("#title", Input).region.area


async def test_toasts_move_off_the_ticket_screens_message_box(
    server: RunningServer,
    api: httpx.AsyncClient,
    project: dict[str, Any],
    make_app: Callable[..., CodalityApp],
) -> None:
    """The ticket screen's message box (shown while an agent runs) sits at the bottom right,
    where toasts stack: they go to the top."""
    ticket = await create_ticket(api, project["slug"], title="Toasts")
    app = make_app(project["slug"])
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        board = await wait_for_screen(pilot, app, BoardScreen)
        await wait_until(pilot, lambda: board.current_ticket is not None)
        await pilot.press("enter")
        screen = await wait_for_screen(pilot, app, TicketScreen)
        await wait_until(pilot, lambda: screen.ticket is not None)
        publish_on_ticket(server, "agent:started", ticket, STARTED)
        await wait_until(pilot, lambda: screen.running)
        await pilot.press("m")
        box = screen.query_one("#message-input", Input)
        await wait_until(pilot, lambda: box.has_focus and bool(box.region.area))
        await two_toasts(pilot, app)
        stacks = stack_regions(screen)
        assert stacks is not None and stacks[0].overlaps(box.region)  # the bottom would cover it
        await wait_until(pilot, lambda: screen.has_class(ON_TOP))
        await wait_until(pilot, lambda: not covered(app))
        assert all(t.bottom <= box.region.y for t in toast_regions(app))
