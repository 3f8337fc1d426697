"""The board against a real server: columns, cards, live updates, keys, the new-ticket form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from codality_cli.tui.app import CodalityApp
from codality_cli.tui.screens.board import BoardScreen
from codality_cli.tui.widgets.status_column import StatusColumn
from tests.conftest import create_ticket

from .conftest import SIZE, wait_for_screen, wait_until


def column(app: CodalityApp, status: str) -> StatusColumn:
    return app.screen.query_one(f"#column-{status}", StatusColumn)


def numbers(app: CodalityApp, status: str) -> list[int]:
    return [int(str(o.id)) for o in column(app, status).options]


async def test_board_shows_tickets_by_status_and_follows_live_changes(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    await create_ticket(api, slug, title="Fix the login bug", kind="bug", priority="urgent")
    await create_ticket(api, slug, title="Write docs", status="inbox")
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: numbers(app, "backlog") == [1])
        assert numbers(app, "inbox") == [2]
        assert isinstance(app.screen, BoardScreen)
        # Created and moved elsewhere (another client): the board follows the one SSE stream.
        await create_ticket(api, slug, title="Added elsewhere")
        await wait_until(pilot, lambda: numbers(app, "backlog") == [1, 3])
        moved = await api.patch(f"/api/projects/{slug}/tickets/1/status", json={"status": "done"})
        assert moved.status_code == 200, moved.text
        await wait_until(pilot, lambda: numbers(app, "done") == [1])
        assert numbers(app, "backlog") == [3]


async def test_keys_move_between_columns_and_cards(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    for title in ("One", "Two"):
        await create_ticket(api, slug, title=title)
    await create_ticket(api, slug, title="Three", status="inbox")
    app = make_app(slug, follow=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: numbers(app, "backlog") == [1, 2])
        board = app.screen
        assert isinstance(board, BoardScreen)
        assert board.current_column is column(app, "backlog")
        await pilot.press("j")
        assert board.current_ticket == 2
        await pilot.press("k")
        assert board.current_ticket == 1
        await pilot.press("h")
        assert board.current_column is column(app, "inbox")
        assert board.current_ticket == 3
        await pilot.press("right", "l")
        assert board.current_column is column(app, "in_progress")
        await pilot.press("left", "left")
        assert board.current_column is column(app, "inbox")


async def test_new_ticket_form_creates_the_ticket_and_selects_it(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
        await pilot.press("n")
        await pilot.press(*"Crash on empty input")
        await pilot.press("enter")
        await wait_until(pilot, lambda: numbers(app, "backlog") == [1])
        board = app.screen
        assert isinstance(board, BoardScreen)
        assert board.current_ticket == 1
    stored = (await api.get(f"/api/projects/{slug}/tickets/1")).json()
    assert stored["title"] == "Crash on empty input"
    assert stored["kind"] == "task" and stored["status"] == "backlog"


async def test_filter_narrows_cards_and_escape_clears_it(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    await create_ticket(api, slug, title="Fix the login bug", kind="bug")
    await create_ticket(api, slug, title="Write docs")
    app = make_app(slug, follow=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: numbers(app, "backlog") == [1, 2])
        await pilot.press("slash", *"login")
        await wait_until(pilot, lambda: numbers(app, "backlog") == [1])
        await pilot.press("escape")
        await wait_until(pilot, lambda: numbers(app, "backlog") == [1, 2])
        assert isinstance(app.focused, StatusColumn)


async def test_cancelled_column_appears_on_toggle(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    await create_ticket(api, slug, title="Dropped idea", status="cancelled")
    app = make_app(slug, follow=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
        assert not app.screen.query("#column-cancelled")
        await pilot.press("C")
        await wait_until(pilot, lambda: bool(app.screen.query("#column-cancelled")))
        await wait_until(pilot, lambda: numbers(app, "cancelled") == [1])
        await pilot.press("C")
        await wait_until(pilot, lambda: not app.screen.query("#column-cancelled"))


async def test_help_lists_the_board_keys_and_the_palette_runs_actions(
    project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    from codality_cli.tui.screens.help import HelpScreen
    from codality_cli.tui.screens.new_ticket import NewTicketScreen

    app = make_app(project["slug"], follow=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
        await pilot.press("question_mark")
        help_screen = await wait_for_screen(pilot, app, HelpScreen)
        described = dict((desc, keys) for keys, desc in help_screen.rows)
        assert described["New ticket"] == "n"
        assert described["Start agent"] == "s"
        assert described["Filter"] == "/"
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
        await pilot.press("ctrl+p")
        await pilot.press(*"New ticket")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, NewTicketScreen))
