"""Which board opens without ``--project``: the only project, or the one picked from a list."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from codality_cli.tui.app import CodalityApp
from codality_cli.tui.screens.board import BoardScreen
from codality_cli.tui.screens.project_picker import ProjectPickerScreen
from tests.conftest import create_project, git

from .conftest import SIZE, wait_for_screen


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
