"""Merging stacked work from the board and the review screen: the question names every
ticket the merge brings, in order, and says whether it then pushes; the notice after it names
them too. Textual's pilot against the real server, real repositories checked with ``git``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from textual.widgets import Static

from codality_cli.tui.app import CodalityApp
from codality_cli.tui.screens.confirm import ConfirmScreen
from tests.conftest import RunningServer, attach_work, create_ticket, git, stack_work

from .conftest import SIZE, notifications, wait_for_screen, wait_until
from .test_agent_flow import board_ready, open_review

STACK = "Merge these 2 tickets into main, in this order:\n  #1 Base step\n  #2 Top step\n"


async def test_the_merge_dialog_of_a_stacked_ticket_names_the_stack_and_says_it_pushes(
    server: RunningServer,
    api: httpx.AsyncClient,
    project: dict[str, Any],
    git_repo: Path,
    tmp_path: Path,
    make_app: Callable[..., CodalityApp],
) -> None:
    slug = project["slug"]
    base = await create_ticket(api, slug, title="Base step")
    top = await create_ticket(api, slug, title="Top step")
    attach_work(server, base, git_repo, tmp_path / "wt1", "codality/1-base-step")
    stack_work(
        server, git_repo, base, top, tmp_path / "wt2", "codality/2-top-step", {"top.txt": "top\n"}
    )
    for number in (1, 2):
        moved = await api.patch(
            f"/api/projects/{slug}/tickets/{number}/status", json={"status": "in_review"}
        )
        assert moved.status_code == 200, moved.text
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(git_repo), str(origin))
    git(git_repo, "remote", "add", "origin", str(origin))
    before = git(origin, "rev-parse", "main")
    assert (await api.put("/api/settings", json={"push_after_merge": False})).status_code == 200

    app = make_app(slug, follow=False)
    async with app.run_test(size=SIZE) as pilot:
        board = await board_ready(pilot, app)
        board.focus_ticket(2)
        review = await open_review(pilot, app)  # #2's review screen asks the same way
        await pilot.press("M")
        asked = await wait_for_screen(pilot, app, ConfirmScreen)
        assert STACK + "They are not pushed (the push_after_merge setting is off)." in (
            asked.question
        )
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is review)
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is board)

        settings = await api.put("/api/settings", json={"push_after_merge": True})
        assert settings.status_code == 200
        await pilot.press("M")
        asked = await wait_for_screen(pilot, app, ConfirmScreen)
        assert STACK + "then push main to origin?" in asked.question
        # The whole question is on screen: every line of the dialog's text is laid out.
        text = asked.query_one(".dialog-text", Static)
        assert text.size.height >= asked.question.count("\n") + 1
        await pilot.press("y")
        await wait_until(
            pilot, lambda: any(m.startswith("Merged #1 and #2") for _, m in notifications(app)), 20
        )
        notice = next(m for _, m in notifications(app) if m.startswith("Merged #1 and #2"))
        assert notice.endswith("; pushed main to origin")

    for number in (1, 2):
        shown = (await api.get(f"/api/projects/{slug}/tickets/{number}")).json()
        assert (shown["status"], shown["branch"]) == ("done", None)
    assert git(origin, "rev-parse", "main") == git(git_repo, "rev-parse", "main") != before
    assert git(git_repo, "show", "main:top.txt") == "top\n"
