"""The review screen's diff when a file is too large to show: listed among the files with the
counts the server gave, and in place of its lines a sentence saying why. Textual's pilot
against the real server, a real repository made with ``git``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from codality_cli.tui.app import CodalityApp
from codality_cli.tui.screens.review import ReviewScreen
from codality_cli.tui.widgets.diff_view import DiffView
from tests.conftest import RunningServer, attach_work, create_ticket, git

from .conftest import SIZE, wait_for_screen, wait_until
from .test_agent_flow import board_ready


async def test_a_file_too_large_to_show_is_listed_with_its_counts_and_says_why(
    server: RunningServer,
    api: httpx.AsyncClient,
    project: dict[str, Any],
    git_repo: Path,
    tmp_path: Path,
    make_app: Callable[..., CodalityApp],
) -> None:
    slug = project["slug"]
    ticket = await create_ticket(api, slug, title="Big data", status="in_review")
    worktree = tmp_path / "wt"
    attach_work(server, ticket, git_repo, worktree, "codality/1-big-data")
    (worktree / "huge.txt").write_text("".join(f"line {i}\n" for i in range(400_000)))
    git(worktree, "add", "huge.txt")
    git(worktree, "commit", "-q", "-m", "a huge file")

    app = make_app(slug, follow=False)
    async with app.run_test(size=SIZE) as pilot:
        await board_ready(pilot, app)
        await pilot.press("d")
        review = await wait_for_screen(pilot, app, ReviewScreen)
        await wait_until(pilot, lambda: len(review.files) == 3)
        assert [(f.path, f.added, f.removed) for f in review.files] == [
            ("huge.txt", 400_000, 0),
            ("notes.md", 1, 0),
            ("src/app.py", 1, 1),
        ]
        view = review.query_one(DiffView)
        await wait_until(pilot, lambda: view.border_title == "huge.txt")
        assert view.option_count == 1
        assert str(view.get_option_at_index(0).prompt) == (
            "Too large to show here: its diff is larger than the 1.0 MB shown of one file."
            " Its changes are counted (+400000 -0), not shown."
        )
        await pilot.press("c")  # nothing to comment on: no prompt opens
        await pilot.pause(0.1)
        assert app.screen is review

        await pilot.press("tab", "down")  # the next file shows its lines as before
        await wait_until(pilot, lambda: view.border_title == "notes.md")
        assert view.option_count == 2  # the hunk header and the added line
