"""The PR on the card and the ticket screen, updated live as GitHub's webhooks arrive."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from textual.widgets import Static

from codality_cli.tui.app import CodalityApp
from codality_cli.tui.board_state import pr_summary
from codality_cli.tui.screens.ticket import ticket_fields
from codality_cli.tui.widgets.status_column import StatusColumn
from tests.conftest import RunningServer, attach_work, create_ticket
from tests.fakes.github_server import FakeGitHub
from tests.github_flow import WIDGETS, connect, linked_project

from .conftest import SIZE, wait_until
from .test_ticket import open_ticket


def card_text(app: CodalityApp, status: str, number: int) -> str:
    """The card's text, or "" until the board shows it."""
    columns = app.screen.query(f"#column-{status}").results(StatusColumn)
    return next((column.card_text(number) for column in columns), "")


def test_pr_summary_text() -> None:
    assert pr_summary({"pull_request": None}) is None
    pr = {
        "number": 3,
        "state": "open",
        "review_state": "changes_requested",
        "checks": {"passed": 2, "failed": 1, "pending": 0},
    }
    assert pr_summary({"pull_request": pr}) == "PR #3 open ✓2 ✗1 ●0 changes requested"
    assert "PR #3 open ✓2 ✗1 ●0" in str(ticket_fields({"number": 1, "pull_request": pr}))


async def test_card_and_ticket_screen_follow_the_pr_live(
    server: RunningServer,
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    git_repo: Path,
    tmp_path: Path,
    make_app: Callable[..., CodalityApp],
) -> None:
    await connect(api, fake_github)
    project = await linked_project(api, fake_github, git_repo)
    slug = project["slug"]
    ticket = await create_ticket(api, slug, title="Friendlier greeting")
    attach_work(server, ticket, git_repo, tmp_path / "wt", "codality/1-friendlier-greeting")
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "Friendlier" in card_text(app, "backlog", ticket["number"]))
        opened = await api.post(f"/api/projects/{slug}/tickets/1/pull-request", json={})
        assert opened.status_code == 201, opened.text
        await wait_until(
            pilot, lambda: "PR #1 open ✓0 ✗0 ●0" in card_text(app, "backlog", ticket["number"])
        )
        run = fake_github.ci(WIDGETS, opened.json()["head_sha"], "test")
        await wait_until(pilot, lambda: "●1" in card_text(app, "backlog", ticket["number"]))
        fake_github.ci_finish(run, "failure")
        await wait_until(pilot, lambda: "✗1 ●0" in card_text(app, "backlog", ticket["number"]))
        screen = await open_ticket(pilot, app, 1)

        def fields() -> str:
            return str(screen.query_one("#fields", Static).render())

        await wait_until(pilot, lambda: "PR #1 open ✓0 ✗1 ●0" in fields())
        fake_github.review(WIDGETS, 1, "alice", "approved", "ok")
        await wait_until(pilot, lambda: "approved" in fields())
