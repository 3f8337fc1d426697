"""Key paths with the real agent (the scripted model behind the real SDK), review and merge."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from textual.widgets import OptionList

from codality_cli.agent_stream import money
from codality_cli.tui.app import CodalityApp
from codality_cli.tui.screens.board import BoardScreen
from codality_cli.tui.screens.confirm import ConfirmScreen
from codality_cli.tui.screens.review import REVIEW_ACTIONS, ReviewScreen
from codality_cli.tui.screens.runs import RunsScreen
from codality_cli.tui.screens.ticket import COMMENT_HINTS, TicketScreen
from codality_cli.tui.widgets.diff_view import DiffView
from codality_cli.tui.widgets.ticket_card import render_card
from codality_cli.tui.widgets.tool_call import ToolCall
from codality_cli.tui.widgets.transcript import NoteBlock, TextBlock, ThinkingBlock, Transcript
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
        assert money(board.state.tickets[1]["agent_cost_usd"]) in card  # what the runs cost
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
        # Asked, saying what is merged and that nothing is pushed (no origin), and declined.
        await pilot.press("M")
        asked = await wait_for_screen(pilot, app, ConfirmScreen)
        assert asked.question.startswith("Merge #1 (")
        assert ") into main? It is not pushed (the repository has no origin remote)." in (
            asked.question
        )
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is review)
        assert (await agent_api.get(f"/api/projects/{slug}/tickets/1")).json()["branch"]
        await pilot.press("M")
        await wait_for_screen(pilot, app, ConfirmScreen)
        await pilot.press("y")
        board = await wait_for_screen(pilot, app, BoardScreen, 20)
        await wait_until(pilot, lambda: board.state.tickets[1].get("status") == "done")
        merged = git(git_repo, "rev-parse", "main").strip()

        # The review screen, opened again, says what happened and shows the diff as merged;
        # its actions are off.
        board.focus_ticket(1)
        review = await open_review(pilot, app)
        assert f"was merged in {merged[:10]}" in str(review.query_one("#outcome").render())
        assert review.query_one("#outcome").display
        assert [f.path for f in review.files] == ["src/app.py"]
        assert all(review.check_action(a, ()) is None for a in REVIEW_ACTIONS)
        await pilot.press("a")
        await pilot.pause(0.2)
        assert app.screen is review
        await pilot.press("escape")

        # The ticket screen says it too.
        await wait_for_screen(pilot, app, BoardScreen)
        await pilot.press("enter")
        screen = await wait_for_screen(pilot, app, TicketScreen)
        await wait_until(pilot, lambda: screen.outcome is not None)
        fields = str(screen.query_one("#fields").render())
        assert f"work merged in {merged[:10]}" in fields
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
        await pilot.press("M")
        await wait_for_screen(pilot, app, ConfirmScreen)
        await pilot.press("y")
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

        # Opened again, the review says the work was discarded instead of "start the agent".
        board.focus_ticket(1)
        await pilot.press("d")
        review = await wait_for_screen(pilot, app, ReviewScreen)
        outcome = review.query_one("#outcome")
        await wait_until(pilot, lambda: outcome.has_class("-visible"))
        assert "was discarded" in str(outcome.render())
        assert "start the agent on it first" not in str(outcome.render())
        assert review.files == []
        assert all(review.check_action(a, ()) is None for a in REVIEW_ACTIONS)
        await pilot.press("escape")
        await wait_for_screen(pilot, app, BoardScreen)
        await pilot.press("enter")
        screen = await wait_for_screen(pilot, app, TicketScreen)
        await wait_until(pilot, lambda: screen.outcome == "discarded")
        assert "work discarded" in str(screen.query_one("#fields").render())
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


def shown_text(screen: TicketScreen) -> str:
    return "".join(b.text + b.pending for b in screen.query(TextBlock) if type(b) is TextBlock)


def notes(screen: TicketScreen) -> list[str]:
    return [str(n.render()) for n in screen.query(NoteBlock)]


async def test_message_box_while_running_comments_reach_the_agent_stopped_call_says_so(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    make_app: Callable[..., CodalityApp],
) -> None:
    slug = project["slug"]
    fake_anthropic.script(tool("bash", say="Running the slow suite.", command="sleep 30"))
    await create_ticket(agent_api, slug, title="Slow suite")
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        await board_ready(pilot, app)
        await pilot.press("enter")
        screen = await wait_for_screen(pilot, app, TicketScreen)
        await wait_until(pilot, lambda: screen.ticket is not None and screen._held is None)
        # No agent: no message box, and the comment box says only people read comments.
        row, hint = screen.query_one("#message-row"), screen.query_one("#comment-hint")
        assert not row.display
        assert str(hint.render()) == COMMENT_HINTS[False]
        await pilot.press("m")
        assert not screen.query_one("#message-input").has_focus

        await pilot.press("s")
        await wait_until(pilot, lambda: screen.running)
        assert row.display
        assert str(hint.render()) == COMMENT_HINTS[True]
        call = await wait_for_call(pilot, screen)
        assert call.outcome is None and "…" in str(call.render())

        # A comment on a ticket whose agent runs reaches the agent as a steer message.
        await pilot.press("c", *"Skip the slow tests", "enter")
        await wait_until(
            pilot, lambda: any("you (steer): Skip the slow tests" in n for n in notes(screen))
        )
        await pilot.press("x")
        await wait_until(pilot, lambda: not screen.running, 20)
        # The call never returned: it reads as stopped, not as running forever.
        await wait_until(pilot, lambda: call.cut_short is not None)
        assert "■ stopped" in str(call.render()) and "…" not in str(call.render())
        assert not row.display
        assert str(hint.render()) == COMMENT_HINTS[False]
        assert not screen.check_action("focus_message", ())

    # A replay of the stored run shows the call stopped too.
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        await board_ready(pilot, app)
        await pilot.press("enter")
        screen = await wait_for_screen(pilot, app, TicketScreen)
        call = await wait_for_call(pilot, screen)
        await wait_until(pilot, lambda: call.cut_short == "stopped")


async def wait_for_call(pilot: Any, screen: TicketScreen) -> ToolCall:
    await wait_until(pilot, lambda: bool(screen.query(ToolCall)), 20)
    return screen.query_one(ToolCall)


async def test_run_history_replays_an_earlier_run_with_costs_as_the_cli_shows_them(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    make_app: Callable[..., CodalityApp],
) -> None:
    slug = project["slug"]
    fake_anthropic.script(
        tool("list_directory", path="."), text("First run's answer."), text("Second run's answer.")
    )
    await create_ticket(agent_api, slug, title="Twice")
    for _ in range(2):
        started = await agent_api.post(f"/api/projects/{slug}/tickets/1/agent/start", json={})
        assert started.is_success, started.text
        async with asyncio.timeout(30):
            while (await session_status(agent_api, slug, 1))["running"]:
                await asyncio.sleep(0.05)
    sessions = (await session_status(agent_api, slug, 1))["sessions"]
    assert len(sessions) == 2 and sessions[0]["cost_usd"] > 0
    assert [s["turns"] for s in sessions] == [1, 2]
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        await board_ready(pilot, app)
        await pilot.press("enter")
        screen = await wait_for_screen(pilot, app, TicketScreen)
        await wait_until(pilot, lambda: "Second run's answer." in shown_text(screen))
        # The run's cost as `codality ticket status 1` prints it (one formatter for both).
        status_line = str(screen.query_one("#agent-status").render())
        assert money(sessions[0]["cost_usd"]) in status_line and " · 1 turn · " in status_line
        assert not screen.query_one("#replay-banner").display

        await pilot.press("r")
        runs = await wait_for_screen(pilot, app, RunsScreen)
        options = runs.query_one("#runs", OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in (0, 1)]
        assert labels[0].startswith("▸ run 2") and labels[1].startswith("  run 1")
        assert f" · 2 turns · {money(sessions[1]['cost_usd'])}" in labels[1]
        assert f" · 1 turn · {money(sessions[0]['cost_usd'])}" in labels[0]
        await pilot.press("down", "enter")
        await wait_for_screen(pilot, app, TicketScreen)
        await wait_until(pilot, lambda: "First run's answer." in shown_text(screen))
        assert "Second run's answer." not in shown_text(screen)
        banner = screen.query_one("#replay-banner")
        assert banner.display and "replaying run 1 of 2" in str(banner.render())

        # Back to the latest run.
        await pilot.press("r")
        await wait_for_screen(pilot, app, RunsScreen)
        await pilot.press("up", "enter")
        await wait_until(pilot, lambda: "Second run's answer." in shown_text(screen))
        assert "First run's answer." not in shown_text(screen)
        assert not banner.display
        assert screen.query_one(Transcript).following
