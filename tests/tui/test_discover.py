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
from codality_server.scripted.server import Turn
from tests.fakes.anthropic_server import FakeAnthropic, text, tool

from .conftest import SIZE, wait_for_screen, wait_until


def chat_text(screen: DiscoverScreen) -> str:
    return "\n".join(str(w.render()) for w in screen.query("#chat-log > *"))


def paragraphs(screen: DiscoverScreen) -> list[str]:
    """The chat's text blocks as shown (each its own widget), rendered so far."""
    return [str(block.render()) for block in screen.query("#chat-log > TextBlock")]


async def answered_conversation(
    api: httpx.AsyncClient, slug: str, title: str, fake: FakeAnthropic, *turns: Turn
) -> dict[str, Any]:
    """A conversation whose first message ("go") the scripted ``turns`` have answered."""
    conversations = f"/api/projects/{slug}/discover/conversations"
    conversation = dict((await api.post(conversations, json={"title": title})).json())
    fake.script(*turns)
    reply = await api.post(
        f"{conversations}/{conversation['id']}/messages",
        json={"content": "go"},
        params={"wait": "true"},
    )
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def first_card(pilot: Any, app: CodalityApp) -> DiscoverScreen:
    """From the board to the discovery screen, with its first proposal card focused."""
    await wait_for_screen(pilot, app, BoardScreen)
    await pilot.press("c")
    screen = await wait_for_screen(pilot, app, DiscoverScreen)
    await wait_until(pilot, lambda: bool(screen.query(ProposalCard)))
    screen.query_one(ProposalCard).focus()
    return screen


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
        tool("give_title", title="Greeting ideas"),
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
        assert "▸ list_directory  .  ✓" in shown
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
    reply = await answered_conversation(
        agent_api,
        slug,
        "Reject",
        fake_anthropic,
        tool("propose_tickets", tickets=[{"title": "Unwanted"}]),
        text("ok"),
    )
    assert reply["actions"][0]["status"] == "pending"
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        screen = await first_card(pilot, app)
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
    await answered_conversation(
        agent_api,
        slug,
        "Edit",
        fake_anthropic,
        tool("propose_tickets", tickets=[{"title": "Draft title"}]),
        text("ok"),
    )
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        await first_card(pilot, app)
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
    items = [{"title": "First"}, {"title": "Second"}]
    call = {"type": "tool_use", "name": "propose_queue", "input": {"name": "Q", "items": items}}
    await answered_conversation(
        agent_api, slug, "Queue", fake_anthropic, {"blocks": [call]}, text("ok")
    )
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        await first_card(pilot, app)
        await pilot.press("y")
        await wait_for_screen(pilot, app, QueueScreen)
    queues = (await agent_api.get(f"/api/projects/{slug}/discover/queues")).json()
    assert [q["name"] for q in queues] == ["Q"]


async def test_two_messages_of_one_reply_are_two_paragraphs_live_and_replayed(
    agent_api: httpx.AsyncClient,
    project: dict[str, Any],
    fake_anthropic: FakeAnthropic,
    make_app: Callable[..., CodalityApp],
) -> None:
    """A reply that says something, proposes, then says more streams as two text blocks (the
    deltas' ``block`` changes), not one run-on line; the stored reply replays the same way."""
    slug = project["slug"]
    more = "Confirm it when you like." + " word" * 400
    fake_anthropic.script(
        tool(
            "propose_tickets",
            say="I would make one ticket.",
            tickets=[{"title": "Louder greeting", "kind": "feature"}],
        ),
        text(more, delay_s=0.03),
        tool("give_title", title="Greeting"),
    )
    conversations = f"/api/projects/{slug}/discover/conversations"
    made = (await agent_api.post(conversations, json={"title": "Two"})).json()
    app = make_app(slug)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_screen(pilot, app, BoardScreen)
        await pilot.press("c")
        screen = await wait_for_screen(pilot, app, DiscoverScreen)
        await wait_until(pilot, lambda: screen.conversation_id == made["id"])
        screen.query_one("#chat-input", Input).focus()
        await pilot.press(*"Louder?")
        await pilot.press("enter")
        shown: list[list[str]] = []

        def streaming() -> bool:  # caught while the second message is still being written
            shown.append(paragraphs(screen))
            return len(shown[-1]) == 2 and "word" in shown[-1][1] and shown[-1][1] != more

        await wait_until(pilot, streaming, timeout=30)
        assert shown[-1][0] == "I would make one ticket."
        assert shown[-1][1].startswith("Confirm it when you like. word")

        def replayed() -> bool:  # the stored reply, reloaded once it ended, with its card
            cards = screen.query(ProposalCard)
            return bool(cards) and paragraphs(screen) == ["I would make one ticket.", more]

        await wait_until(pilot, replayed, 60)
