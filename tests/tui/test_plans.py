"""The plans screen against a real server: list, rendered body, drafts, editing, approve, delete."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
from textual.widgets import DataTable, Markdown, OptionList, Static, TextArea

from codality_cli.tui.app import CodalityApp
from codality_cli.tui.screens.board import BoardScreen
from codality_cli.tui.screens.confirm import ConfirmScreen
from codality_cli.tui.screens.plans import PlansScreen
from codality_cli.tui.screens.prompt import PromptScreen
from codality_cli.tui.widgets.transcript import Transcript
from tests.fakes.anthropic_server import FakeAnthropic, text, tool, unchecked

from .conftest import SIZE, notifications, wait_for_screen, wait_until

DRAFTS = [
    {"title": "Schema for tags"},
    {"title": "Tag API", "kind": "feature", "depends_on": [1]},
]


async def new_plan(api: httpx.AsyncClient, slug: str, **fields: Any) -> dict[str, Any]:
    response = await api.post(f"/api/projects/{slug}/plans", json=fields)
    assert response.status_code == 201, response.text
    return dict(response.json())


def listed(screen: PlansScreen) -> list[int]:
    return [int(str(o.id)) for o in screen.query_one("#plan-list", OptionList).options]


def round_shown(screen: PlansScreen) -> list[str]:
    """What the suggestion round's transcript shows, a line per widget (text as rendered)."""
    return [str(w.render()) for w in screen.query("#suggest-log > *")]


def draft_rows(screen: PlansScreen) -> list[list[str]]:
    table = screen.query_one("#drafts", DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def open_plans(pilot: Any, app: CodalityApp) -> PlansScreen:
    await wait_for_screen(pilot, app, BoardScreen)
    await pilot.press("P")
    return await wait_for_screen(pilot, app, PlansScreen)


async def test_plans_show_body_and_drafts_and_approve_after_confirming(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    older = await new_plan(api, slug, title="Older", body="old")
    plan = await new_plan(api, slug, title="Tags", body="# Tags\n\nLabel *tickets*.", drafts=DRAFTS)
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_plans(pilot, app)
        await wait_until(pilot, lambda: listed(screen) == [plan["id"], older["id"]])
        assert screen.current == plan["id"]  # the newest is open
        assert "Tags" in str(screen.query_one("#plan-header", Static).render())
        markdown = screen.query_one("#plan-markdown", Markdown)
        assert markdown.source == "# Tags\n\nLabel *tickets*."
        assert draft_rows(screen) == [
            ["1", "Schema for tags", "task", "medium", "", ""],
            ["2", "Tag API", "feature", "medium", "1", ""],
        ]

        await pilot.press("a")
        confirm = await wait_for_screen(pilot, app, ConfirmScreen)
        assert confirm.question == "Create 2 tickets from 'Tags'?"
        await pilot.press("n")  # declined: nothing happens
        await wait_for_screen(pilot, app, PlansScreen)
        assert (await api.get(f"/api/projects/{slug}/tickets")).json() == []

        await pilot.press("a")
        await wait_for_screen(pilot, app, ConfirmScreen)
        await pilot.press("y")
        await wait_until(pilot, lambda: [r[5] for r in draft_rows(screen)] == ["#1", "#2"])
        assert screen.plan is not None and screen.plan["status"] == "approved"
        assert ("information", "Created 2 tickets: #1, #2") in notifications(app)
        tickets = (await api.get(f"/api/projects/{slug}/tickets")).json()
        assert [t["depends_on"] for t in tickets] == [[], [1]]

        # Approving again is refused by the server, and the screen says why.
        await pilot.press("a")
        await wait_for_screen(pilot, app, ConfirmScreen)
        await pilot.press("y")
        await wait_until(pilot, lambda: any("already approved" in m for _, m in notifications(app)))

        # Another plan selected from the list shows its own body.
        await pilot.press("down")
        await wait_until(pilot, lambda: screen.current == older["id"])
        assert markdown.source == "old" and draft_rows(screen) == []


async def test_plans_follow_live_changes_from_other_clients(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_plans(pilot, app)
        await wait_until(pilot, lambda: screen.project_id is not None)
        assert "No plan yet" in str(screen.query_one("#plan-header", Static).render())
        plan = await new_plan(api, slug, title="From elsewhere", body="first")
        await wait_until(pilot, lambda: listed(screen) == [plan["id"]])
        markdown = screen.query_one("#plan-markdown", Markdown)
        await wait_until(pilot, lambda: markdown.source == "first")
        url = f"/api/projects/{slug}/plans/{plan['id']}"
        await api.put(url, json={"body": "second", "drafts": DRAFTS})
        await wait_until(pilot, lambda: markdown.source == "second")
        assert len(draft_rows(screen)) == 2
        assert (await api.delete(url)).status_code == 204
        await wait_until(pilot, lambda: listed(screen) == [])
        assert screen.current is None


async def test_write_a_new_plan_in_the_editor_then_delete_it(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    slug = project["slug"]
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_plans(pilot, app)
        await wait_until(pilot, lambda: screen.project_id is not None)
        await pilot.press("n")
        await wait_for_screen(pilot, app, PromptScreen)
        await pilot.press(*"Search", "enter")
        await wait_until(pilot, lambda: screen.editing)
        editor = screen.query_one("#plan-editor", TextArea)
        assert editor.has_focus and editor.display
        await pilot.press(*"Full text", "enter", *"search.")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not screen.editing)
        plans = (await api.get(f"/api/projects/{slug}/plans")).json()
        assert [(p["title"], p["body"]) for p in plans] == [("Search", "Full text\nsearch.")]
        assert screen.query_one("#plan-markdown", Markdown).source == "Full text\nsearch."

        # Editing and leaving with escape keeps what the server has.
        await pilot.press("e")
        await wait_until(pilot, lambda: screen.editing)
        await pilot.press(*"scratch")
        await pilot.press("escape")
        assert not screen.editing and isinstance(app.screen, PlansScreen)
        assert (await api.get(f"/api/projects/{slug}/plans")).json()[0]["body"] == (
            "Full text\nsearch."
        )

        await pilot.press("D")
        await wait_for_screen(pilot, app, ConfirmScreen)
        await pilot.press("y")
        await wait_until(pilot, lambda: listed(screen) == [])
        assert (await api.get(f"/api/projects/{slug}/plans")).json() == []
        await pilot.press("escape")
        await wait_for_screen(pilot, app, BoardScreen)


async def test_check_readiness_and_extract_tickets_with_the_model(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    make_app: Callable[..., CodalityApp],
) -> None:
    slug = project["slug"]
    await new_plan(agent_api, slug, title="Tags", body="# Tags\n\nLabel tickets.")
    verdict: dict[str, Any] = {
        "ready": False,
        "explanation": "Storage is open.",
        "missing": ["a schema"],
    }
    drafts = [{"title": "Tags table"}, {"title": "Tag API", "kind": "story", "depends_on": [1]}]
    fake_anthropic.script(tool("report_readiness", **verdict), unchecked(text(json.dumps(drafts))))
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_plans(pilot, app)
        await wait_until(pilot, lambda: screen.plan is not None)
        header = screen.query_one("#plan-header", Static)
        await pilot.press("c")
        await wait_until(pilot, lambda: "not ready" in str(header.render()))
        assert "Storage is open." in str(header.render()) and "a schema" in str(header.render())
        await pilot.press("x")
        await wait_until(pilot, lambda: len(draft_rows(screen)) == 2)
        assert draft_rows(screen)[1] == ["2", "Tag API", "feature", "medium", "1", ""]
        assert ("information", "2 ticket drafts; a approves them") in notifications(app)


async def test_suggestions_beside_the_plan_to_accept_or_dismiss(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    make_app: Callable[..., CodalityApp],
) -> None:
    slug = project["slug"]
    body = "# Greetings\n\nChange the greeting.\n\n## Tests\n\nTBD\n"
    plan = await new_plan(agent_api, slug, title="Greetings", body=body)
    first = {"passage": "TBD", "text": "Test `greet`.", "why": "There is no test."}
    second = {"passage": "", "text": "## Out of scope", "why": "Say what is not done."}
    answer = f"Two things.\n```json\n{json.dumps([first, second])}\n```\nThat is all."
    fake_anthropic.script(
        tool("read_file", say="Reading the greeter.", path="src/app.py"), text(answer)
    )
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_plans(pilot, app)
        await wait_until(pilot, lambda: screen.plan is not None)
        log = screen.query_one("#suggest-log", Transcript)
        assert not log.display  # until a round streams
        await pilot.press("s")
        status = screen.query_one("#suggest-status", Static)
        await wait_until(pilot, lambda: "2 suggestions" in str(status.render()))
        assert len(screen.pending) == 2
        # The round streams into the transcript widget of every session (over the event
        # stream, possibly after the answer): its two messages are two paragraphs, the tool
        # call a line between them with no mark (a plan's call has no reported result); the
        # answer's JSON is the suggestions, not text.
        prose = "Two things.\nThat is all."
        await wait_until(pilot, lambda: round_shown(screen)[-1:] == [prose])
        said, called, answered = round_shown(screen)
        assert said == "Reading the greeter." and answered == prose
        assert called.split() == ["▸", "read_file", "src/app.py"]
        assert log.display and "2 suggestions" in str(status.render())
        suggestions = screen.query_one("#suggestions", OptionList)
        assert suggestions.has_focus and suggestions.option_count == 2
        await pilot.press("enter")  # accept the first
        url = f"/api/projects/{slug}/plans/{plan['id']}"

        async def saved() -> str:
            return str((await agent_api.get(url)).json()["body"])

        expected = body.replace("TBD", "Test `greet`.")
        async with asyncio.timeout(10):
            while await saved() != expected:
                await pilot.pause(0.05)
        await wait_until(
            pilot, lambda: screen.query_one("#plan-markdown", Markdown).source == expected
        )
        assert [p["why"] for p in screen.pending] == ["Say what is not done."]
        await pilot.press("d")  # dismiss the other
        assert screen.pending == [] and suggestions.option_count == 0
        assert await saved() == expected


async def test_at_80x24_the_body_editor_has_room_to_write(
    api: httpx.AsyncClient, project: dict[str, Any], make_app: Callable[..., CodalityApp]
) -> None:
    app = make_app(project["slug"])
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_plans(pilot, app)
        await wait_until(pilot, lambda: screen.project_id is not None)
        await pilot.press("n")
        await wait_for_screen(pilot, app, PromptScreen)
        await pilot.press(*"Search", "enter")
        await wait_until(pilot, lambda: screen.editing)
        editor = screen.query_one("#plan-editor", TextArea)
        await wait_until(pilot, lambda: editor.content_region.width > 0)
        assert editor.content_region.width >= 40  # was 8
        assert editor.region.right <= 80
        await pilot.press("escape")
        await wait_until(pilot, lambda: not screen.editing)
        doc = screen.query_one("#plan-doc")
        assert doc.region.width >= 30 and screen.query_one("#suggestion-pane").region.width >= 20
