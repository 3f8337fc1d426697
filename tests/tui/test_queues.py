"""Work queues in the TUI against a real server: the queue panel and the board's queue marks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from textual.widgets import OptionList, Static

from codality_cli.tui.app import CodalityApp
from codality_cli.tui.screens.board import BoardScreen
from codality_cli.tui.screens.queue import QueueScreen, parse_new_queue
from codality_cli.tui.screens.ticket import TicketScreen
from codality_cli.tui.widgets.status_column import StatusColumn
from tests.conftest import create_ticket
from tests.fakes.anthropic_server import FakeAnthropic, text, tool

from .conftest import SIZE, notifications, wait_for_screen, wait_until


def queues_url(project: dict[str, Any], *rest: object) -> str:
    return "/".join([f"/api/projects/{project['slug']}/discover/queues", *map(str, rest)])


async def make_queue(
    api: httpx.AsyncClient, project: dict[str, Any], name: str, tickets: list[int]
) -> dict[str, Any]:
    made = await api.post(queues_url(project), json={"name": name, "tickets": tickets})
    assert made.status_code == 201, made.text
    return dict(made.json())


def card_text(app: CodalityApp, status: str, number: int) -> str:
    """The card's text ("" until the board shows it)."""
    return app.screen.query_one(f"#column-{status}", StatusColumn).card_text(number)


def item_numbers(screen: QueueScreen) -> list[int]:
    items = screen.query_one("#queue-items", OptionList)
    return [int(str(items.get_option_at_index(i).id)) for i in range(items.option_count)]


async def test_the_board_marks_queued_tickets_live(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    for title in ("One", "Two", "Three"):
        await create_ticket(api, slug, title=title)
    await make_queue(api, project, "Night run", [2])
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_screen(pilot, app, BoardScreen)
        await wait_until(pilot, lambda: card_text(app, "backlog", 2).startswith("⧗ #2 Two"))
        assert card_text(app, "backlog", 1).startswith("#1 One")
        # Another client queues #3 and deletes the first queue: the marks follow the stream.
        await make_queue(api, project, "Later", [3])
        await wait_until(pilot, lambda: card_text(app, "backlog", 3).startswith("⧗"))
        assert (await api.delete(queues_url(project, 1))).status_code == 204
        await wait_until(pilot, lambda: card_text(app, "backlog", 2).startswith("#2"))
        assert card_text(app, "backlog", 3).startswith("⧗")


async def test_queue_panel_lists_reorders_makes_and_deletes_queues(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    for title in ("One", "Two", "Three"):
        await create_ticket(api, slug, title=title)
    queue = await make_queue(api, project, "Night run", [1, 2, 3])
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_screen(pilot, app, BoardScreen)
        await pilot.press("Q")
        screen = await wait_for_screen(pilot, app, QueueScreen)
        await wait_until(pilot, lambda: item_numbers(screen) == [1, 2, 3])
        await pilot.press("enter")  # into the queue's tickets
        assert screen.query_one("#queue-items", OptionList).has_focus
        await pilot.press("J")  # #1 moves down, on the server too
        await wait_until(pilot, lambda: item_numbers(screen) == [2, 1, 3])
        shown = (await api.get(queues_url(project, queue["id"]))).json()
        assert [item["ticket"] for item in shown["items"]] == [2, 1, 3]
        await pilot.press("K", "K")  # back up, and no further than the top
        await wait_until(pilot, lambda: item_numbers(screen) == [1, 2, 3])

        await pilot.press("n")
        await pilot.press(*"Later: 3 1", "enter")
        await wait_until(pilot, lambda: len(screen.queues) == 2 and screen.chosen == 2)
        assert item_numbers(screen) == [3, 1]
        listed = (await api.get(queues_url(project))).json()
        assert [(q["name"], [i["ticket"] for i in q["items"]]) for q in listed] == [
            ("Night run", [1, 2, 3]),
            ("Later", [3, 1]),
        ]

        await pilot.press("D", "y")
        await wait_until(pilot, lambda: list(screen.queues) == [1])
        assert [q["name"] for q in (await api.get(queues_url(project))).json()] == ["Night run"]

        # Another client renames the queue: the panel follows the stream.
        await api.put(queues_url(project, 1), json={"name": "Renamed"})
        await wait_until(pilot, lambda: screen.queues[1]["name"] == "Renamed")

        await pilot.press("tab")
        assert screen.query_one("#queue-list", OptionList).has_focus
        await pilot.press("tab", "enter")
        ticket = await wait_for_screen(pilot, app, TicketScreen)
        assert ticket.number == 1


def test_a_new_queue_is_a_name_a_colon_and_numbers() -> None:
    assert parse_new_queue("Night run: 3 5 #8") == ("Night run", [3, 5, 8])
    assert parse_new_queue("a:b: 1,2") == ("a:b", [1, 2])
    assert parse_new_queue("no numbers:") is None
    assert parse_new_queue(": 3") is None
    assert parse_new_queue("3 5") is None


def item_states(screen: QueueScreen) -> list[str]:
    queue = screen.queue
    return [item["status"] for item in queue["items"]] if queue else []


async def test_start_release_and_cancel_from_the_panel_follow_the_run_live(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    make_app: Callable[..., CodalityApp],
) -> None:
    slug = project["slug"]
    for title in ("One", "Two", "Three"):
        await create_ticket(agent_api, slug, title=title)
    broken = {"status": 400, "error_type": "invalid_request_error", "message": "no good"}
    fake_anthropic.script(text("One done."), broken)
    await make_queue(agent_api, project, "Night run", [1, 2, 3])
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_screen(pilot, app, BoardScreen)
        await pilot.press("Q")
        screen = await wait_for_screen(pilot, app, QueueScreen)
        await wait_until(pilot, lambda: item_states(screen) == ["pending"] * 3)
        await pilot.press("s")
        await wait_until(pilot, lambda: item_states(screen) == ["done", "failed", "pending"])
        await wait_until(
            pilot, lambda: screen.queue is not None and screen.queue["status"] == "paused"
        )
        header = str(screen.query_one("#queue-header", Static).render())
        assert "paused" in header and "#2 failed" in header
        assert any(
            severity == "error" and message.startswith("Queue 'Night run' paused: #2 failed")
            for severity, message in notifications(app)
        )

        fake_anthropic.script(tool("bash", command="sleep 30"))
        await pilot.press("r")
        await wait_until(pilot, lambda: item_states(screen) == ["done", "pending", "pending"])
        await pilot.press("s")
        await wait_until(pilot, lambda: item_states(screen) == ["done", "running", "pending"])
        await pilot.press("x")
        await pilot.press("y")
        await wait_until(
            pilot, lambda: screen.queue is not None and screen.queue["status"] == "cancelled"
        )
        assert item_states(screen) == ["done", "pending", "pending"]  # stopped, not failed
        shown = (await agent_api.get(queues_url(project, 1))).json()
        assert shown["status"] == "cancelled"
