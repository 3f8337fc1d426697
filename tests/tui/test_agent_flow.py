"""Key paths with the real agent (the scripted model behind the real SDK), review and merge."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from codality_cli.tui.app import CodalityApp
from codality_cli.tui.screens.board import BoardScreen
from codality_cli.tui.screens.review import ReviewScreen
from codality_cli.tui.screens.ticket import TicketScreen
from codality_cli.tui.widgets.diff_view import DiffView
from codality_cli.tui.widgets.ticket_card import render_card
from codality_cli.tui.widgets.tool_call import ToolCall
from codality_cli.tui.widgets.transcript import NoteBlock, TextBlock, ThinkingBlock
from tests.conftest import create_ticket, git
from tests.fakes.anthropic_server import FakeAnthropic, overloaded, text, tool

from .conftest import FAREWELL_RUN, SIZE, notifications, wait_for_screen, wait_until


async def session_status(api: httpx.AsyncClient, slug: str, number: int) -> dict[str, Any]:
    return dict((await api.get(f"/api/projects/{slug}/tickets/{number}/agent/status")).json())


async def board_ready(pilot: Any, app: CodalityApp) -> BoardScreen:
    board = await wait_for_screen(pilot, app, BoardScreen)
    await wait_until(pilot, lambda: bool(board.state.tickets))
    board.focus_ticket(1)
    return board


async def run_to_review(pilot: Any, app: CodalityApp, api: httpx.AsyncClient, slug: str) -> None:
    """``s`` on the board's ticket #1 and wait until the agent has finished it."""
    board = await board_ready(pilot, app)
    board.focus_ticket(1)
    await pilot.press("s")
    await wait_until(pilot, lambda: board.state.tickets[1].get("status") == "in_review", 30)
    await wait_until(pilot, lambda: board.state.tickets[1].get("agent_status") == "completed")
    board.focus_ticket(1)


async def farewell_app(
    api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    slug: str,
    make_app: Callable[..., CodalityApp],
    *later_turns: dict[str, Any],
) -> CodalityApp:
    """The app on a project whose ticket #1 the scripted agent answers with the farewell edit
    (then ``later_turns``, for the runs that follow)."""
    fake_anthropic.script(*FAREWELL_RUN, *later_turns)
    await create_ticket(api, slug, title="Add farewell")
    return make_app(slug)


async def open_review(pilot: Any, app: CodalityApp) -> ReviewScreen:
    """``d`` on the focused ticket; returns the review screen once its diff has loaded."""
    await pilot.press("d")
    review = await wait_for_screen(pilot, app, ReviewScreen)
    await wait_until(pilot, lambda: len(review.files) == 1)
    return review


async def test_start_finish_notify_then_review_with_a_comment_restarts_the_agent(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    make_app: Callable[..., CodalityApp],
) -> None:
    slug = project["slug"]
    app = await farewell_app(agent_api, fake_anthropic, slug, make_app, text("Renamed as asked."))
    async with app.run_test(size=SIZE) as pilot:
        await run_to_review(pilot, app, agent_api, slug)
        board = app.screen
        assert isinstance(board, BoardScreen)
        # The card's badge says the ticket needs the user; a notification said so too.
        await wait_until(pilot, lambda: board.state.tickets[1].get("agent_status") == "completed")
        card = render_card(board.state.tickets[1]).plain
        assert "needs review" in card
        assert f"${board.state.tickets[1]['agent_cost_usd']:.2f}" in card  # what the runs cost
        await wait_until(
            pilot, lambda: any("Agent finished on #1" in m for _, m in notifications(app))
        )

        review = await open_review(pilot, app)
        assert [f.path for f in review.files] == ["src/app.py"]
        view = review.query_one(DiffView)
        assert view.diff is not None
        added = next(i for i, line in enumerate(view.diff.lines) if "goodbye" in line.text)
        view.highlighted = added
        await pilot.press("c")
        await pilot.press(*"Say farewell, not goodbye", "enter")
        await wait_until(pilot, lambda: len(review.pending) == 1)
        line = view.diff.lines[added].new
        assert review.pending[0] == {
            "path": "src/app.py",
            "line": line,
            "body": "Say farewell, not goodbye",
        }

        await pilot.press("R")
        await pilot.press(*"Please use farewell wording", "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, ReviewScreen))
        status = await session_status(agent_api, slug, 1)
        assert status["session"]["trigger"] == "review"
    comments = (await agent_api.get(f"/api/projects/{slug}/tickets/1/reviews/comments")).json()
    assert [(c["path"], c["line"], c["body"]) for c in comments] == [
        ("src/app.py", line, "Say farewell, not goodbye")
    ]
    reviews = (await agent_api.get(f"/api/projects/{slug}/tickets/1/reviews")).json()
    assert [(r["state"], r["body"]) for r in reviews] == [
        ("changes_requested", "Please use farewell wording")
    ]


async def test_merge_from_the_review_lands_on_main(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    git_repo: Path,
    make_app: Callable[..., CodalityApp],
) -> None:
    slug = project["slug"]
    app = await farewell_app(agent_api, fake_anthropic, slug, make_app)
    async with app.run_test(size=SIZE) as pilot:
        await run_to_review(pilot, app, agent_api, slug)
        review = await open_review(pilot, app)
        await pilot.press("a")
        await pilot.press("m")  # not merge: nothing happens on the review screen
        await pilot.press("M", "n")  # asked, and declined
        await pilot.pause(0.2)
        assert app.screen is review
        assert (await agent_api.get(f"/api/projects/{slug}/tickets/1")).json()["branch"]
        await pilot.press("M", "y")
        board = await wait_for_screen(pilot, app, BoardScreen, 20)
        await wait_until(pilot, lambda: board.state.tickets[1].get("status") == "done")
    assert "goodbye" in git(git_repo, "show", "main:src/app.py")
    reviews = (await agent_api.get(f"/api/projects/{slug}/tickets/1/reviews")).json()
    assert [r["state"] for r in reviews] == ["approved"]


async def test_a_conflicting_merge_is_refused_and_names_the_files(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    git_repo: Path,
    make_app: Callable[..., CodalityApp],
) -> None:
    slug = project["slug"]
    app = await farewell_app(agent_api, fake_anthropic, slug, make_app)
    async with app.run_test(size=SIZE) as pilot:
        await run_to_review(pilot, app, agent_api, slug)
        # Meanwhile main changes the same line.
        (git_repo / "src" / "app.py").write_text("def greet(person):\n    return 'hi'\n")
        git(git_repo, "commit", "-qam", "conflicting change on main")
        head = git(git_repo, "rev-parse", "main")
        review = await open_review(pilot, app)
        await pilot.press("M", "y")
        conflicts = review.query_one("#conflicts")
        await wait_until(pilot, lambda: conflicts.has_class("-visible"))
        assert "src/app.py" in str(conflicts.render())
        assert isinstance(app.screen, ReviewScreen)
    assert git(git_repo, "rev-parse", "main") == head


async def test_discard_asks_first_then_keeps_the_tip_and_moves_the_ticket_back(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    git_repo: Path,
    make_app: Callable[..., CodalityApp],
) -> None:
    slug = project["slug"]
    app = await farewell_app(agent_api, fake_anthropic, slug, make_app)
    async with app.run_test(size=SIZE) as pilot:
        await run_to_review(pilot, app, agent_api, slug)
        branch = (await agent_api.get(f"/api/projects/{slug}/tickets/1")).json()["branch"]
        await open_review(pilot, app)
        await pilot.press("D", "n")  # asked, and declined: nothing happens
        await pilot.pause(0.2)
        assert branch in git(git_repo, "branch", "--list", branch)
        await pilot.press("D", "y")
        board = await wait_for_screen(pilot, app, BoardScreen, 20)
        await wait_until(pilot, lambda: board.state.tickets[1].get("status") == "backlog")
    assert git(git_repo, "branch", "--list", branch).strip() == ""
    assert git(git_repo, "for-each-ref", "refs/codality/discarded/").strip()


async def test_a_failed_run_notifies_with_its_error(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    make_app: Callable[..., CodalityApp],
) -> None:
    slug = project["slug"]
    fake_anthropic.script(*[overloaded()] * 10)
    await create_ticket(agent_api, slug, title="Doomed")
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        board = await board_ready(pilot, app)
        await pilot.press("s")
        await wait_until(
            pilot, lambda: any(s == "error" and "#1" in m for s, m in notifications(app)), 30
        )
        assert board.state.tickets[1].get("agent_status") == "failed"
        assert "failed" in render_card(board.state.tickets[1]).plain


async def test_steer_a_running_agent_then_stop_it(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    make_app: Callable[..., CodalityApp],
) -> None:
    slug = project["slug"]
    slow = {"blocks": [{"type": "text", "text": "Thinking about it slowly. " * 40}], "delay_s": 0.2}
    fake_anthropic.script(slow, slow)
    await create_ticket(agent_api, slug, title="Slow one")
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        board = await board_ready(pilot, app)
        await pilot.press("s")
        await wait_until(pilot, lambda: board.state.tickets[1].get("agent_status") == "running")
        await pilot.press("enter")
        screen = await wait_for_screen(pilot, app, TicketScreen)
        await pilot.press("m", *"Use the helper", "enter")
        await wait_until(
            pilot,
            lambda: any(
                "you (steer): Use the helper" in str(n.render()) for n in screen.query(NoteBlock)
            ),
        )
        await pilot.press("ctrl+t", "m", *"Then tidy up", "enter")
        await wait_until(
            pilot,
            lambda: any(
                "you (queue): Then tidy up" in str(n.render()) for n in screen.query(NoteBlock)
            ),
        )
        await pilot.press("x")
        await wait_until(
            pilot,
            lambda: screen.ticket is not None and screen.ticket.get("agent_status") == "stopped",
        )
    status = await session_status(agent_api, slug, 1)
    assert status["session"]["status"] == "stopped"


async def test_a_finished_run_opened_later_shows_its_stored_transcript(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    make_app: Callable[..., CodalityApp],
) -> None:
    slug = project["slug"]
    fake_anthropic.script(
        tool("read_file", say="Reading first.", thinking="Where is greet?", path="src/app.py"),
        text("All done here."),
    )
    await create_ticket(agent_api, slug, title="Look around")
    assert (await agent_api.post(f"/api/projects/{slug}/tickets/1/agent/start", json={})).is_success
    async with asyncio.timeout(30):
        while (await session_status(agent_api, slug, 1))["running"]:
            await asyncio.sleep(0.05)
    app = make_app(slug)  # a new app: it saw none of the run live
    async with app.run_test(size=SIZE) as pilot:
        board = await board_ready(pilot, app)
        board.focus_ticket(1)
        await pilot.press("enter")
        screen = await wait_for_screen(pilot, app, TicketScreen)
        await wait_until(pilot, lambda: bool(screen.query(ToolCall)))
        await wait_until(
            pilot,
            lambda: (
                "All done here."
                in "".join(
                    b.text + b.pending for b in screen.query(TextBlock) if type(b) is TextBlock
                )
            ),
        )
        call = screen.query_one(ToolCall)
        assert call.tool_name == "read_file" and call.outcome is True
        assert "def greet" in call.output
        thinking = "".join(b.text + b.pending for b in screen.query(ThinkingBlock))
        assert "Where is greet?" in thinking
        notes = [str(n.render()) for n in screen.query(NoteBlock)]
        assert any("completed" in note and "All done here." in note for note in notes)
