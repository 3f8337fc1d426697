"""The discovery screen against a real server and the scripted model: conversations on the left,
the chat on the right with the reply streaming in, proposal cards decided with y / n."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from textual.widgets import Input, ListView, Static, TextArea

from codality_cli.tui.app import CodalityApp
from codality_cli.tui.screens.board import BoardScreen
from codality_cli.tui.screens.discover import DiscoverScreen, EditProposalScreen, ProposalCard
from codality_cli.tui.screens.ticket import TicketScreen
from tests.fakes.anthropic_server import FakeAnthropic, text, tool

from .conftest import SIZE, wait_for_screen, wait_until


def chat_text(screen: DiscoverScreen) -> str:
    return "\n".join(str(w.render()) for w in screen.query("#chat-log > Static"))


async def test_chat_streams_and_a_confirmed_proposal_opens_its_ticket(
    agent_api: httpx.AsyncClient,
    project: dict[str, Any],
    fake_anthropic: FakeAnthropic,
    make_app: Callable[..., CodalityApp],
) -> None:
    slug = project["slug"]
    older = await agent_api.post(
        f"/api/projects/{slug}/discover/conversations", json={"title": "Older talk"}
    )
    fake_anthropic.script(
        tool("list_directory", say="Looking around.", path="."),
        tool("propose_tickets", tickets=[{"title": "Louder greeting"}]),
        tool("propose_ticket_update", number=99, title="Nope"),
        text("Two ideas above."),
        text("Greeting ideas"),
    )
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_screen(pilot, app, BoardScreen)
        await pilot.press("c")
        screen = await wait_for_screen(pilot, app, DiscoverScreen)
        await wait_until(pilot, lambda: len(screen.query_one(ListView)) == 1)
        assert screen.conversation_id == older.json()["id"]

        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: screen.conversation_id != older.json()["id"])
        await wait_until(pilot, lambda: screen.query_one("#chat-input", Input).has_focus)
        await pilot.press(*"Any ideas?")
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(screen.query(ProposalCard)))
        await wait_until(pilot, lambda: "Two ideas above." in chat_text(screen))
        shown = chat_text(screen)
        assert "you: Any ideas?" in shown and "Looking around." in shown
        assert "▸ list_directory ." in shown
        [card] = screen.query(ProposalCard)
        assert "Louder greeting" in str(card.render())
        await wait_until(pilot, lambda: len(screen.query_one(ListView)) == 2)

        card.focus()
        await pilot.press("y")
        ticket_screen = await wait_for_screen(pilot, app, TicketScreen)
        assert ticket_screen.number == 1
    tickets = (await agent_api.get(f"/api/projects/{slug}/tickets")).json()
    assert [t["title"] for t in tickets] == ["Louder greeting"]


async def test_a_rejected_card_changes_nothing(
    agent_api: httpx.AsyncClient,
    project: dict[str, Any],
    fake_anthropic: FakeAnthropic,
    make_app: Callable[..., CodalityApp],
) -> None:
    slug = project["slug"]
    made = await agent_api.post(
        f"/api/projects/{slug}/discover/conversations", json={"title": "Reject"}
    )
    conversation = made.json()
    fake_anthropic.script(tool("propose_tickets", tickets=[{"title": "Unwanted"}]), text("ok"))
    reply = await agent_api.post(
        f"/api/projects/{slug}/discover/conversations/{conversation['id']}/messages",
        json={"content": "go"},
        params={"wait": "true"},
    )
    assert reply.json()["actions"][0]["status"] == "pending"
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_screen(pilot, app, BoardScreen)
        await pilot.press("c")
        screen = await wait_for_screen(pilot, app, DiscoverScreen)
        await wait_until(pilot, lambda: bool(screen.query(ProposalCard)))
        screen.query_one(ProposalCard).focus()
        await pilot.press("n")
        await wait_until(
            pilot,
            lambda: (
                bool(screen.query(ProposalCard))
                and screen.query_one(ProposalCard).has_class("-decided")
            ),
        )
        assert "rejected" in str(screen.query_one(ProposalCard).render())
        assert isinstance(app.screen, DiscoverScreen)
        assert isinstance(screen.query_one("#chat-log").children[0], Static)
    assert (await agent_api.get(f"/api/projects/{slug}/tickets")).json() == []


async def test_e_edits_the_proposal_then_confirms_it(
    agent_api: httpx.AsyncClient,
    project: dict[str, Any],
    fake_anthropic: FakeAnthropic,
    make_app: Callable[..., CodalityApp],
) -> None:
    slug = project["slug"]
    made = await agent_api.post(
        f"/api/projects/{slug}/discover/conversations", json={"title": "Edit"}
    )
    conversation = made.json()
    fake_anthropic.script(tool("propose_tickets", tickets=[{"title": "Draft title"}]), text("ok"))
    await agent_api.post(
        f"/api/projects/{slug}/discover/conversations/{conversation['id']}/messages",
        json={"content": "go"},
        params={"wait": "true"},
    )
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_screen(pilot, app, BoardScreen)
        await pilot.press("c")
        screen = await wait_for_screen(pilot, app, DiscoverScreen)
        await wait_until(pilot, lambda: bool(screen.query(ProposalCard)))
        screen.query_one(ProposalCard).focus()
        await pilot.press("e")
        editor = await wait_for_screen(pilot, app, EditProposalScreen)
        area = editor.query_one(TextArea)
        area.text = area.text.replace("Draft title", "Edited in the TUI")
        await pilot.press("ctrl+s")
        ticket_screen = await wait_for_screen(pilot, app, TicketScreen)
        assert ticket_screen.number == 1
    tickets = (await agent_api.get(f"/api/projects/{slug}/tickets")).json()
    assert [t["title"] for t in tickets] == ["Edited in the TUI"]


async def test_a_confirmed_queue_opens_the_queues(
    agent_api: httpx.AsyncClient,
    project: dict[str, Any],
    fake_anthropic: FakeAnthropic,
    make_app: Callable[..., CodalityApp],
) -> None:
    from codality_cli.tui.screens.queue import QueueScreen

    slug = project["slug"]
    made = await agent_api.post(
        f"/api/projects/{slug}/discover/conversations", json={"title": "Queue"}
    )
    conversation = made.json()
    items = [{"title": "First"}, {"title": "Second"}]
    call = {"type": "tool_use", "name": "propose_queue", "input": {"name": "Q", "items": items}}
    fake_anthropic.script({"blocks": [call]}, text("ok"))
    await agent_api.post(
        f"/api/projects/{slug}/discover/conversations/{conversation['id']}/messages",
        json={"content": "go"},
        params={"wait": "true"},
    )
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_screen(pilot, app, BoardScreen)
        await pilot.press("c")
        screen = await wait_for_screen(pilot, app, DiscoverScreen)
        await wait_until(pilot, lambda: bool(screen.query(ProposalCard)))
        screen.query_one(ProposalCard).focus()
        await pilot.press("y")
        await wait_for_screen(pilot, app, QueueScreen)
    queues = (await agent_api.get(f"/api/projects/{slug}/discover/queues")).json()
    assert [q["name"] for q in queues] == ["Q"]
