"""Snapshots (pytest-textual-snapshot) of the board, a ticket mid-stream, a diff review and help.

Plain functions, since ``snap_compare`` runs the app in its own event loop; the data is set up
over HTTP against the real server and made deterministic (no clocks, no toasts, no blinking
cursors, fixed text).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from codality_cli.tui.app import CodalityApp
from codality_cli.tui.messages import PlansOpenRequested, ReviewRequested, TicketOpenRequested
from codality_cli.tui.screens.board import BoardScreen
from codality_cli.tui.screens.plans import PlansScreen
from codality_cli.tui.screens.queue import QueueScreen
from codality_cli.tui.screens.review import ReviewScreen
from codality_cli.tui.screens.ticket import TicketScreen
from codality_cli.tui.widgets.transcript import Transcript
from tests.conftest import RunningServer
from tests.fakes.anthropic_server import FakeAnthropic

from .conftest import FAREWELL_RUN, SIZE, publish_on_ticket, wait_for_screen, wait_until

Snap = Callable[..., bool]
TICKETS = [
    {"title": "Crash when the config file is empty", "kind": "bug", "priority": "urgent"},
    {"title": "Dark mode for the settings page", "kind": "feature", "priority": "high"},
    {"title": "Upgrade the HTTP client", "kind": "chore", "priority": "low"},
    {"title": "Triage user reports", "status": "inbox"},
    {"title": "Add a farewell function", "kind": "feature", "status": "in_progress"},
    {"title": "Document the API", "status": "done"},
]


@pytest.fixture
def http(server: RunningServer, admin_token: str) -> Iterator[httpx.Client]:
    """A synchronous admin client: ``snap_compare`` owns the event loop, so no async here."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        yield client


def setup_project(http: httpx.Client, repo: Path, tickets: list[dict[str, Any]]) -> str:
    created = http.post("/api/projects", json={"mode": "existing", "path": str(repo)})
    assert created.status_code == 201, created.text
    slug = str(created.json()["slug"])
    for fields in tickets:
        assert http.post(f"/api/projects/{slug}/tickets", json=fields).status_code == 201
    return slug


async def settled(pilot: Pilot[Any]) -> None:
    """No toasts, and cursors that stay lit (a blinking one is caught on or off by timing)."""
    pilot.app.clear_notifications()
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause(0.3)


def board_snapshot(
    snap_compare: Snap,
    server: RunningServer,
    http: httpx.Client,
    git_repo: Path,
    make_app: Callable[..., CodalityApp],
    size: tuple[int, int],
    press: tuple[str, ...] = (),
) -> bool:
    """The sample board (a queue, a running agent) at ``size``, after pressing ``press``."""
    slug = setup_project(http, git_repo, TICKETS)
    ticket = http.get(f"/api/projects/{slug}/tickets/5").json()
    queue = {"name": "Night run", "tickets": [2, 3]}
    assert http.post(f"/api/projects/{slug}/discover/queues", json=queue).status_code == 201
    app = make_app(slug)

    async def run_before(pilot: Pilot[Any]) -> None:
        board = await wait_for_screen(pilot, app, BoardScreen)
        await wait_until(pilot, lambda: len(board.state.tickets) == len(TICKETS))
        await wait_until(pilot, lambda: len(board.state.queued) == 2)
        publish_on_ticket(server, "agent:started", ticket, {"id": 1, "status": "running"})
        await wait_until(
            pilot, lambda: board.state.tickets[ticket["id"]]["agent_status"] == "running"
        )
        await pilot.press(*press)
        await settled(pilot)

    return bool(snap_compare(app, run_before=run_before, terminal_size=size))


def test_board(
    snap_compare: Snap,
    server: RunningServer,
    http: httpx.Client,
    git_repo: Path,
    make_app: Callable[..., CodalityApp],
) -> None:
    assert board_snapshot(snap_compare, server, http, git_repo, make_app, SIZE)


def test_board_80x24(
    snap_compare: Snap,
    server: RunningServer,
    http: httpx.Client,
    git_repo: Path,
    make_app: Callable[..., CodalityApp],
) -> None:
    """Five columns with short titles and counts, two-line cards, a footer that fits."""
    assert board_snapshot(snap_compare, server, http, git_repo, make_app, (80, 24), ("j",))


def test_board_160x48(
    snap_compare: Snap,
    server: RunningServer,
    http: httpx.Client,
    git_repo: Path,
    make_app: Callable[..., CodalityApp],
) -> None:
    """Full column titles; only the focused column (inbox) shows its selected card."""
    assert board_snapshot(snap_compare, server, http, git_repo, make_app, (160, 48), ("h",))


def test_new_ticket_form_80x24(
    snap_compare: Snap,
    server: RunningServer,
    http: httpx.Client,
    git_repo: Path,
    make_app: Callable[..., CodalityApp],
) -> None:
    """The form centred and whole at 80×24."""
    press = ("n", *"Crash on start")
    assert board_snapshot(snap_compare, server, http, git_repo, make_app, (80, 24), press)


def test_command_line_80x24(
    snap_compare: Snap,
    server: RunningServer,
    http: httpx.Client,
    git_repo: Path,
    make_app: Callable[..., CodalityApp],
) -> None:
    """``:`` opens the command line at the bottom, completing the command name."""
    press = ("colon", *"pl")
    assert board_snapshot(snap_compare, server, http, git_repo, make_app, (80, 24), press)


def test_queue_panel(
    snap_compare: Snap,
    http: httpx.Client,
    git_repo: Path,
    make_app: Callable[..., CodalityApp],
) -> None:
    slug = setup_project(http, git_repo, TICKETS[:3])
    queues = f"/api/projects/{slug}/discover/queues"
    for queue in (
        {"name": "Night run", "tickets": [3, 1, 2], "description": "The small fixes, overnight"},
        {"name": "Later", "tickets": [2], "merge_each": True, "max_parallel": 2},
    ):
        assert http.post(queues, json=queue).status_code == 201
    app = make_app(slug, follow=False)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
        await pilot.press("Q")
        screen = await wait_for_screen(pilot, app, QueueScreen)
        await wait_until(pilot, lambda: len(screen.queues) == 2)
        await pilot.press("enter", "down")
        await settled(pilot)

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_board_help(
    snap_compare: Snap,
    http: httpx.Client,
    git_repo: Path,
    make_app: Callable[..., CodalityApp],
) -> None:
    slug = setup_project(http, git_repo, TICKETS[:2])
    app = make_app(slug, follow=False)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
        await pilot.press("question_mark")
        await settled(pilot)

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


def test_ticket_mid_stream(
    snap_compare: Snap,
    server: RunningServer,
    http: httpx.Client,
    git_repo: Path,
    make_app: Callable[..., CodalityApp],
) -> None:
    fields = {
        "title": "Add a farewell function",
        "kind": "feature",
        "description": "We need `farewell(name)` next to `greet`.\n\n- keep it short",
    }
    slug = setup_project(http, git_repo, [fields])
    ticket = http.get(f"/api/projects/{slug}/tickets/1").json()
    app = make_app(slug)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
        await pilot.pause(0.2)
        started = {"id": 1, "status": "running", "model": "claude-sonnet-4-5"}
        publish_on_ticket(server, "agent:started", ticket, started)
        publish_on_ticket(
            server, "agent:thinking_delta", ticket, {"text": "greet() lives in src/app.py."}
        )
        publish_on_ticket(
            server, "agent:text_delta", ticket, {"text": "Let me read the module first."}
        )
        publish_on_ticket(
            server,
            "agent:tool_call",
            ticket,
            {"tool_use_id": "t1", "name": "read_file", "input": {"path": "src/app.py"}},
        )
        publish_on_ticket(
            server,
            "agent:tool_result",
            ticket,
            {"tool_use_id": "t1", "name": "read_file", "ok": True, "output": "def greet(name):"},
        )
        publish_on_ticket(
            server,
            "agent:tool_call",
            ticket,
            {"tool_use_id": "t2", "name": "bash", "input": {"command": "python -m pytest -q"}},
        )
        publish_on_ticket(server, "agent:text_delta", ticket, {"text": "Now I'll add `farewell` "})
        await wait_until(pilot, lambda: len(app.live_run(ticket["id"]) or []) == 7)
        app.post_message(TicketOpenRequested(slug, 1))
        await wait_until(pilot, lambda: isinstance(app.screen, TicketScreen))
        await wait_until(pilot, lambda: app.screen.query_one(Transcript).children != ())
        await settled(pilot)

    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_ticket_after_a_stopped_run(
    size: tuple[int, int],
    snap_compare: Snap,
    server: RunningServer,
    http: httpx.Client,
    git_repo: Path,
    make_app: Callable[..., CodalityApp],
) -> None:
    """A run stopped in the middle of a tool call: the call reads as stopped, the cost as the CLI
    prints it, no message box, and the comment box says only people read comments."""
    fields = {"title": "Add a farewell function", "description": "Next to `greet`."}
    slug = setup_project(http, git_repo, [fields])
    ticket = http.get(f"/api/projects/{slug}/tickets/1").json()
    app = make_app(slug)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
        app.post_message(TicketOpenRequested(slug, 1))
        screen = await wait_for_screen(pilot, app, TicketScreen)
        await wait_until(pilot, lambda: screen.ticket is not None and screen._held is None)
        started = {"id": 1, "status": "running", "model": "claude-sonnet-4-5"}
        publish_on_ticket(server, "agent:started", ticket, started)
        publish_on_ticket(
            server, "agent:text_delta", ticket, {"text": "Running the tests before I edit."}
        )
        call = {"tool_use_id": "t1", "name": "bash", "input": {"command": "pytest -q"}}
        publish_on_ticket(server, "agent:tool_call", ticket, call)
        stopped = {**started, "status": "stopped", "cost_usd": 0.0123}
        publish_on_ticket(server, "agent:stopped", ticket, stopped)
        await wait_until(
            pilot, lambda: "stopped" in str(screen.query_one("#agent-status").render())
        )
        screen.query_one(Transcript).focus()
        await settled(pilot)

    assert snap_compare(app, run_before=run_before, terminal_size=size)


@pytest.mark.parametrize("size", [SIZE, (80, 24)], ids=["120x34", "80x24"])
def test_diff_review(
    size: tuple[int, int],
    snap_compare: Snap,
    http: httpx.Client,
    git_repo: Path,
    fake_anthropic: FakeAnthropic,
    make_app: Callable[..., CodalityApp],
) -> None:
    fake_anthropic.script(*FAREWELL_RUN)
    env = {"ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": fake_anthropic.url}
    assert http.put("/api/settings/env", json=env).status_code == 200
    slug = setup_project(http, git_repo, [{"title": "Add a farewell function"}])
    agent = f"/api/projects/{slug}/tickets/1/agent"
    assert http.post(f"{agent}/start", json={}).status_code == 202
    deadline = time.monotonic() + 30
    while http.get(f"{agent}/status").json()["running"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    app = make_app(slug, follow=False)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
        app.post_message(ReviewRequested(slug, 1))
        review = await wait_for_screen(pilot, app, ReviewScreen)
        await wait_until(pilot, lambda: len(review.files) == 1)
        await pilot.press("down", "down", "down", "v", "down")
        await settled(pilot)

    assert snap_compare(app, run_before=run_before, terminal_size=size)


@pytest.mark.parametrize(
    ("size", "press"), [(SIZE, ()), ((80, 24), ("e",))], ids=["120x34", "80x24-editing"]
)
def test_plans(
    snap_compare: Snap,
    http: httpx.Client,
    git_repo: Path,
    make_app: Callable[..., CodalityApp],
    size: tuple[int, int],
    press: tuple[str, ...],
) -> None:
    """The plan beside its suggestions; at 80 columns the editor takes the suggestions' room."""
    slug = setup_project(http, git_repo, [])
    body = (
        "# Tags\n\nLet people **label** tickets and filter the board by label.\n\n"
        "## Design\n\n- a `tags` table\n- `GET /tags`\n- a filter in the TUI\n"
    )
    drafts = [
        {"title": "Schema for tags", "kind": "task", "priority": "high"},
        {"title": "Tag API", "kind": "feature", "depends_on": [1]},
        {"title": "Filter the board by tag", "kind": "feature", "depends_on": [1, 2]},
    ]
    http.post(f"/api/projects/{slug}/plans", json={"title": "Older idea", "body": "maybe"})
    made = http.post(
        f"/api/projects/{slug}/plans", json={"title": "Tags", "body": body, "drafts": drafts}
    )
    assert made.status_code == 201, made.text
    app = make_app(slug, follow=False)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
        app.post_message(PlansOpenRequested(slug))
        plans = await wait_for_screen(pilot, app, PlansScreen)
        await wait_until(pilot, lambda: plans.plan is not None)
        await pilot.press(*press)
        await settled(pilot)
        for editor in plans.query(TextArea):
            editor.cursor_blink = False

    assert snap_compare(app, run_before=run_before, terminal_size=size)
