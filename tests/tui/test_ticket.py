"""The ticket screen: fields, comments, and the live transcript of a run already in progress."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import httpx
from rich.console import Console

from codality_cli.tui.app import CodalityApp
from codality_cli.tui.screens.board import BoardScreen
from codality_cli.tui.screens.ticket import TicketScreen
from codality_cli.tui.widgets.comment_list import CommentList
from codality_cli.tui.widgets.tool_call import ToolCall
from codality_cli.tui.widgets.transcript import (
    NoteBlock,
    PreparingNote,
    TextBlock,
    ThinkingBlock,
    Transcript,
)
from tests.conftest import RunningServer, create_ticket

from .conftest import SIZE, publish_on_ticket, wait_for_screen, wait_until

STARTED = {"id": 1, "status": "running", "model": "claude-sonnet-4-5", "trigger": "manual"}


def plain(renderable: Any) -> str:
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def streamed(app: CodalityApp, block: type[TextBlock] = TextBlock) -> str:
    return "".join(b.text + b.pending for b in app.screen.query(block) if type(b) is block)


def live_text(app: CodalityApp, ticket_id: int) -> str:
    """The text of the ticket's running agent as the app received it so far."""
    run = app.live_run(ticket_id) or []
    return "".join(e.data["text"] for e in run if e.type == "agent:text_delta")


async def open_ticket(pilot: Any, app: CodalityApp, number: int) -> TicketScreen:
    board = await wait_for_screen(pilot, app, BoardScreen)
    await wait_until(pilot, lambda: board.current_ticket is not None)
    board.focus_ticket(number)
    await pilot.press("enter")
    screen = await wait_for_screen(pilot, app, TicketScreen)
    await wait_until(pilot, lambda: screen.ticket is not None and screen._held is None)
    return screen


async def test_a_run_in_progress_shows_its_history_then_streams_live(
    server: RunningServer,
    api: httpx.AsyncClient,
    project: dict[str, Any],
    make_app: Callable[..., CodalityApp],
) -> None:
    ticket = await create_ticket(
        api, project["slug"], title="Add farewell", description="Say *bye*."
    )
    app = make_app(project["slug"])
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
        await pilot.pause(0.2)
        publish_on_ticket(server, "agent:started", ticket, STARTED)
        publish_on_ticket(server, "agent:thinking_delta", ticket, {"text": "Where is greet()?"})
        publish_on_ticket(server, "agent:text_delta", ticket, {"text": "Let me look "})
        publish_on_ticket(server, "agent:text_delta", ticket, {"text": "at the code."})
        # The two text deltas of one frame reach the app joined (live.py batches them).
        await wait_until(pilot, lambda: live_text(app, ticket["id"]) == "Let me look at the code.")

        screen = await open_ticket(pilot, app, ticket["number"])
        await wait_until(pilot, lambda: streamed(app) == "Let me look at the code.")
        assert streamed(app, ThinkingBlock) == "Where is greet()?"

        publish_on_ticket(
            server,
            "agent:tool_call",
            ticket,
            {
                "tool_use_id": "t1",
                "name": "bash",
                "input": {"command": "ls src"},
            },
        )
        publish_on_ticket(
            server,
            "agent:tool_result",
            ticket,
            {
                "tool_use_id": "t1",
                "name": "bash",
                "ok": True,
                "output": "app.py\nutil.py",
            },
        )
        publish_on_ticket(server, "agent:text_delta", ticket, {"text": "Found it."})
        await wait_until(pilot, lambda: "Found it." in streamed(app))
        call = screen.query_one(ToolCall)
        await wait_until(pilot, lambda: call.outcome is True)
        assert call.tool_name == "bash" and call.output == "app.py\nutil.py"

        # A tool call is one line until enter expands it.
        assert not call.expanded
        call.focus()
        await pilot.press("enter")
        assert call.expanded
        await wait_until(pilot, lambda: call.size.height > 1)
        assert "util.py" in plain(call.render())

        # t toggles thinking.
        thinking = screen.query_one(ThinkingBlock)
        await pilot.press("t")
        assert not thinking.display
        publish_on_ticket(server, "agent:thinking_delta", ticket, {"text": "A second thought."})
        await wait_until(pilot, lambda: "A second thought." in streamed(app, ThinkingBlock))
        assert not any(block.display for block in screen.query(ThinkingBlock))
        await pilot.press("t")
        assert all(block.display for block in screen.query(ThinkingBlock))


async def test_scrolling_up_pauses_following_and_end_jumps_back(
    server: RunningServer,
    api: httpx.AsyncClient,
    project: dict[str, Any],
    make_app: Callable[..., CodalityApp],
) -> None:
    ticket = await create_ticket(api, project["slug"], title="Long run")
    app = make_app(project["slug"])
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
        await pilot.pause(0.2)
        publish_on_ticket(server, "agent:started", ticket, STARTED)
        screen = await open_ticket(pilot, app, ticket["number"])
        transcript = screen.query_one(Transcript)
        for line in range(80):
            publish_on_ticket(server, "agent:text_delta", ticket, {"text": f"line {line}\n"})
        await wait_until(pilot, lambda: "line 79" in streamed(app))
        await wait_until(pilot, lambda: transcript.max_scroll_y > 0)
        await wait_until(pilot, lambda: transcript.scroll_y == transcript.max_scroll_y)

        transcript.focus()
        await wait_until(pilot, lambda: transcript.has_focus)
        await pilot.press("pageup")
        await wait_until(pilot, lambda: not transcript.following)
        hint = screen.query_one("#follow-hint")
        await wait_until(pilot, lambda: hint.has_class("-visible"))
        # page-up scrolls with an animation: read the position once it has come to rest
        await pilot.wait_for_scheduled_animations()
        paused_at = transcript.scroll_y
        publish_on_ticket(server, "agent:text_delta", ticket, {"text": "more while paused\n"})
        await wait_until(pilot, lambda: "more while paused" in streamed(app))
        await pilot.pause(0.2)
        assert transcript.scroll_y == paused_at

        await pilot.press("end")
        await wait_until(pilot, lambda: transcript.following)
        await wait_until(pilot, lambda: transcript.scroll_y == transcript.max_scroll_y)
        assert not hint.has_class("-visible")


async def test_comments_are_listed_added_and_arrive_live(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    ticket = await create_ticket(api, slug, title="Discuss")
    url = f"/api/projects/{slug}/tickets/{ticket['number']}/comments"
    assert (await api.post(url, json={"body": "First thoughts"})).status_code == 201
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_ticket(pilot, app, ticket["number"])
        comments = screen.query_one(CommentList)
        await wait_until(pilot, lambda: len(comments.seen) == 1)
        await pilot.press("c", *"Typed here", "enter")
        await wait_until(pilot, lambda: len(comments.seen) == 2)
        assert (await api.post(url, json={"body": "From elsewhere"})).status_code == 201
        await wait_until(pilot, lambda: len(comments.seen) == 3)
    bodies = [c["body"] for c in (await api.get(url)).json()]
    assert bodies == ["First thoughts", "Typed here", "From elsewhere"]


async def test_two_messages_of_one_reply_are_two_blocks_and_overlaps_show_once(
    server: RunningServer,
    api: httpx.AsyncClient,
    project: dict[str, Any],
    make_app: Callable[..., CodalityApp],
) -> None:
    """Deltas name their transcript block and where in it they start: a new block is a new
    paragraph, and a delta repeating text the block already shows adds only the rest."""
    ticket = await create_ticket(api, project["slug"], title="Two messages")
    app = make_app(project["slug"])
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
        await pilot.pause(0.2)
        publish_on_ticket(server, "agent:started", ticket, STARTED)
        publish_on_ticket(
            server, "agent:text_delta", ticket, {"text": "First.", "block": 2, "at": 0}
        )
        publish_on_ticket(
            server, "agent:text_delta", ticket, {"text": "Second", "block": 3, "at": 0}
        )
        screen = await open_ticket(pilot, app, ticket["number"])
        await wait_until(pilot, lambda: streamed(app) == "First.Second")
        publish_on_ticket(
            server, "agent:text_delta", ticket, {"text": "Second, again.", "block": 3, "at": 0}
        )
        await wait_until(pilot, lambda: streamed(app) == "First.Second, again.")
        texts = [b.text + b.pending for b in screen.query(TextBlock) if type(b) is TextBlock]
        assert texts == ["First.", "Second, again."]


async def test_a_run_stopped_by_its_budget_says_so_with_its_tokens_as_billed(
    server: RunningServer,
    api: httpx.AsyncClient,
    project: dict[str, Any],
    make_app: Callable[..., CodalityApp],
) -> None:
    ticket = await create_ticket(api, project["slug"], title="Endless", description="Loop.")
    app = make_app(project["slug"])
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_ticket(pilot, app, ticket["number"])
        publish_on_ticket(server, "agent:started", ticket, STARTED)
        cut = {"message": "to fit the context window, cleared the output of 8 old tool calls"}
        sizes = {"tokens_before": 180_000, "tokens_after": 100_000}
        publish_on_ticket(server, "agent:history_trimmed", ticket, {**cut, **sizes})
        tokens = {"tokens_in": 9000, "tokens_cache_read": 7000, "tokens_cache_write": 1500}
        stopped = {
            **STARTED,
            **tokens,
            "turns": 40,
            "status": "stopped",
            "error": "budget: 40 turns",
        }
        publish_on_ticket(server, "agent:stopped", ticket, {**stopped, "cost_usd": 0.5})
        status = screen.query_one("#agent-status")
        await wait_until(pilot, lambda: "stopped" in str(status.render()))
        assert " · 40 turns · 9000 in (7000 cache read, 1500 cache write)" in str(status.render())
        notes = [plain(note.render()) for note in screen.query(NoteBlock)]
        assert any("stopped · $0.5000 (budget: 40 turns)" in note for note in notes), notes
        assert any(f"✂ history cut {cut['message']}" in note for note in notes), notes


async def test_a_run_preparing_its_worktree_spins_then_says_ready(
    server: RunningServer,
    api: httpx.AsyncClient,
    project: dict[str, Any],
    make_app: Callable[..., CodalityApp],
) -> None:
    ticket = await create_ticket(api, project["slug"], title="Big repository")
    app = make_app(project["slug"])
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
        await pilot.pause(0.2)
        screen = await open_ticket(pilot, app, ticket["number"])
        publish_on_ticket(server, "agent:started", ticket, STARTED)
        step = {"step": "preparing the worktree", "done": False}
        publish_on_ticket(server, "agent:preparing", ticket, step)
        await wait_until(pilot, lambda: bool(screen.query(PreparingNote)))
        note = screen.query_one(PreparingNote)
        first = plain(note.render()).strip()
        await wait_until(pilot, lambda: plain(note.render()).strip() != first)  # it spins
        assert plain(note.render()).strip().endswith(" preparing the worktree")
        ready = {"step": "worktree ready in 2.6 s", "done": True}
        publish_on_ticket(server, "agent:preparing", ticket, ready)
        await wait_until(pilot, lambda: note.done)
        assert plain(note.render()).strip() == "✓ worktree ready in 2.6 s"
        await pilot.pause(0.3)
        assert plain(note.render()).strip() == "✓ worktree ready in 2.6 s"  # it no longer spins
