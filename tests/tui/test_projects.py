"""Which board opens without ``--project`` (the only project, or the one picked from a list), and
switching project from the board (``p``, ``:project NAME``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from codality_cli.tui.app import CodalityApp
from codality_cli.tui.screens.board import BoardScreen
from codality_cli.tui.screens.project_picker import ProjectPickerScreen
from tests.conftest import create_project, create_ticket, git

from .conftest import SIZE, notifications, wait_for_screen, wait_until


async def test_the_only_project_opens_directly(
    api: httpx.AsyncClient, git_repo: Path, make_app: Callable[..., CodalityApp]
) -> None:
    slug = (await create_project(api, git_repo))["slug"]
    app = make_app(None, follow=False)
    async with app.run_test(size=SIZE) as pilot:
        board = await wait_for_screen(pilot, app, BoardScreen)
        assert board.slug == slug


async def test_several_projects_ask_which_one(
    api: httpx.AsyncClient, git_repo: Path, tmp_path: Path, make_app: Callable[..., CodalityApp]
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "trunk")
    git(other, "commit", "-q", "--allow-empty", "-m", "start")
    await create_project(api, git_repo)
    second = (await create_project(api, other))["slug"]
    app = make_app(None, follow=False)
    async with app.run_test(size=SIZE) as pilot:
        picker = await wait_for_screen(pilot, app, ProjectPickerScreen)
        index = [p["slug"] for p in picker.projects].index(second)
        await pilot.press(*["down"] * index, "enter")
        board = await wait_for_screen(pilot, app, BoardScreen)
        assert board.slug == second


async def test_p_and_colon_project_switch_boards_without_leaving(
    api: httpx.AsyncClient, git_repo: Path, tmp_path: Path, make_app: Callable[..., CodalityApp]
) -> None:
    other = tmp_path / "shop"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    git(other, "commit", "-q", "--allow-empty", "-m", "start")
    first = (await create_project(api, git_repo))["slug"]
    second = (await create_project(api, other))["slug"]
    await create_ticket(api, second, title="Only in the shop")
    app = make_app(first, follow=False)
    async with app.run_test(size=SIZE) as pilot:
        board = await wait_for_screen(pilot, app, BoardScreen)
        await pilot.press("p")
        picker = await wait_for_screen(pilot, app, ProjectPickerScreen)
        await pilot.press("escape")  # changed my mind: the same board
        assert await wait_for_screen(pilot, app, BoardScreen) is board
        await pilot.press("p")
        picker = await wait_for_screen(pilot, app, ProjectPickerScreen)
        index = [p["slug"] for p in picker.projects].index(second)
        await pilot.press("home", *["down"] * index, "enter")
        await wait_until(
            pilot, lambda: isinstance(app.screen, BoardScreen) and app.screen is not board
        )
        shop = app.screen
        assert isinstance(shop, BoardScreen) and shop.slug == second
        await wait_until(
            pilot, lambda: [t["title"] for t in shop.state.tickets.values()] == ["Only in the shop"]
        )
        assert len(app.screen_stack) == 2  # switched, not stacked
        await pilot.press("colon", *f"project {first}", "enter")
        await wait_until(
            pilot, lambda: isinstance(app.screen, BoardScreen) and app.screen.slug == first
        )
        await pilot.press("colon", *"project nowhere", "enter")
        await wait_until(
            pilot, lambda: any("No project 'nowhere'" in m for _, m in notifications(app))
        )
