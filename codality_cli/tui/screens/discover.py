"""Discovery: conversations on the left, the chat on the right, proposals as cards.

The chat is a ``Transcript``, the widget of a ticket's runs: it shows the stored conversation
(each reply's blocks replayed as the events they were), then follows ``discover:*`` events for it:
deltas grow the reply being written, a new block starting a new paragraph, tool calls add a line,
and ``discover:message`` (a reply finished, or a proposal decided) reloads the conversation from
the server, which is the record. A focused
proposal card takes ``y`` (confirm), ``e`` (edit, then confirm) and ``n`` (reject); confirming
jumps to the ticket it made or changed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, ListItem, ListView, Static, TextArea

from codality_cli.api import ApiError
from codality_cli.discover_view import card_lines, chat_items, made_summary, streams_live
from codality_cli.tui.messages import (
    EventReceived,
    PlansOpenRequested,
    QueuesRequested,
    TicketOpenRequested,
)
from codality_cli.tui.screens.base import LiveScreen, give_back
from codality_cli.tui.widgets.status_bar import ConnectionBanner
from codality_cli.tui.widgets.title_bar import TitleBar
from codality_cli.tui.widgets.transcript import Transcript

if TYPE_CHECKING:
    from codality_cli.api.models import Conversation
    from codality_cli.api.models import Message as StoredMessage


class ProposalCard(Static, can_focus=True):
    """One proposal; pending ones take ``y`` / ``e`` / ``n``."""

    DEFAULT_CSS = """
    ProposalCard { height: auto; border: round $warning; padding: 0 1; margin: 0 0 1 0; }
    ProposalCard:focus { border: round $accent; background: $boost; }
    ProposalCard.-decided { border: round $panel; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "decide('confirm')", "Confirm"),
        Binding("e", "decide('edit')", "Edit"),
        Binding("n", "decide('reject')", "Reject"),
    ]

    class Decided(Message):
        def __init__(self, action: Mapping[str, Any], decision: str) -> None:
            super().__init__()
            self.action = action
            self.decision = decision

    def __init__(self, action: Mapping[str, Any]) -> None:
        lines = card_lines(action)
        pending = action.get("status") == "pending"
        hint = "\ny confirm · e edit · n reject" if pending else ""
        super().__init__(Text("\n".join(lines) + hint), classes="" if pending else "-decided")
        self.action = action

    def action_decide(self, decision: str) -> None:
        if self.action.get("status") == "pending":
            self.post_message(self.Decided(self.action, decision))


class EditProposalScreen(ModalScreen[dict[str, Any] | None]):
    """The proposal's JSON in a text area; ``ctrl+s`` confirms with the edits."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Confirm with edits", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, proposal: dict[str, Any]) -> None:
        super().__init__(classes="modal")
        self.proposal = proposal

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Edit the proposal, then ctrl+s to confirm it", classes="dialog-text")
            yield TextArea(json.dumps(self.proposal, indent=2), language="json", id="proposal")
            yield Static("ctrl+s: confirm · escape: cancel", classes="dialog-hint")

    def action_save(self) -> None:
        try:
            edited = json.loads(self.query_one(TextArea).text)
        except json.JSONDecodeError as exc:
            self.notify(f"Not valid JSON: {exc}", severity="error")
            return
        if not isinstance(edited, dict):
            self.notify("The proposal must stay a JSON object", severity="error")
            return
        self.dismiss({k: v for k, v in edited.items() if self.proposal.get(k) != v})

    def action_cancel(self) -> None:
        self.dismiss(None)


class DiscoverScreen(LiveScreen):
    HELP_TITLE = "Discovery"
    WANTS_DELTAS = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+n", "new_conversation", "New conversation"),
        Binding("i", "focus_input", "Write"),
        Binding("r", "reload", "Reload", show=False),
    ]

    def __init__(self, slug: str, conversation_id: int | None = None) -> None:
        super().__init__(id="discover")
        self.slug = slug
        self.conversation_id = conversation_id
        self.conversations: list[Conversation] = []

    def compose(self) -> ComposeResult:
        yield TitleBar(show_clock=False)
        yield ConnectionBanner()
        with Horizontal(id="discover-body"):
            yield ListView(id="conversations")
            with Vertical(id="chat"):
                yield Transcript(id="chat-log")
                yield Input(placeholder="Ask about the code (enter to send)", id="chat-input")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"{self.slug} · discovery"
        self.load_list()

    # ---- loading ---------------------------------------------------------------------------

    @work(exclusive=True, group="discover-list")
    async def load_list(self) -> None:
        found = await self.attempt(self.api.discover.list(self.slug), "Listing conversations")
        if found is None:
            return
        self.conversations = found
        view = self.query_one("#conversations", ListView)
        await view.clear()
        for conversation in found:
            title = conversation.get("title") or f"conversation {conversation['id']}"
            await view.append(ListItem(Static(title), name=str(conversation["id"])))
        if self.conversation_id is None and found:
            self.conversation_id = int(found[0]["id"])
        ids = [int(c["id"]) for c in found]
        if self.conversation_id in ids:
            view.index = ids.index(self.conversation_id)
            self.load_chat()

    @work(exclusive=True, group="discover-chat")
    async def load_chat(self) -> None:
        if self.conversation_id is None:
            return
        found = await self.attempt(
            self.api.discover.get(self.slug, self.conversation_id), "Loading the conversation"
        )
        if found is None:
            return
        log = self.query_one("#chat-log", Transcript)
        await log.remove_children()
        log.clear()
        for message in found.get("messages", []):
            self._show_message(log, message)
        log.scroll_end(animate=False)

    def _show_message(self, log: Transcript, message: StoredMessage) -> None:
        """A stored message (``chat_items``): the user's line, or the reply's blocks replayed
        as the events they were, a ``ProposalCard`` for each proposal, and how it ended."""
        for item in chat_items(message):
            if item[0] == "event":
                log.add_event(*item[1])
            elif item[0] == "card":
                log.add(ProposalCard(item[1]))
            elif item[0] == "user":
                log.add(Static(Text(item[1], style="bold cyan"), classes="chat-you"))
            else:
                log.add(Static(Text(item[1], style="dim italic")))

    # ---- events ----------------------------------------------------------------------------

    def on_event_received(self, message: EventReceived) -> None:
        if not message.type.startswith("discover:"):
            return
        data = message.data
        if data.get("conversation_id") != self.conversation_id:
            if message.type == "discover:message":
                self.load_list()
            return
        if message.type == "discover:message":
            self.load_chat()
        elif streams_live(message.type, data):
            self.query_one("#chat-log", Transcript).add_event(message.type, data)

    # ---- actions ---------------------------------------------------------------------------

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        if event.item is not None and event.item.name:
            self.conversation_id = int(event.item.name)
            self.load_chat()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_reload(self) -> None:
        self.load_list()

    def action_focus_input(self) -> None:
        self.query_one("#chat-input", Input).focus()

    @work(group="discover-new")
    async def action_new_conversation(self) -> None:
        made = await self.attempt(self.api.discover.create(self.slug), "Starting a conversation")
        if made is not None:
            self.conversation_id = int(made["id"])
            self.load_list()
            self.action_focus_input()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if text:
            event.input.value = ""
            self.send(event.input, text)

    @work(group="discover-send")
    async def send(self, field: Input, text: str) -> None:
        if self.conversation_id is None:
            made = await self.attempt(self.api.discover.create(self.slug), "Starting")
            if made is None:
                give_back(field, text)
                return
            self.conversation_id = int(made["id"])
            self.load_list()
        said = Static(Text(f"you: {text}", style="bold cyan"), classes="chat-you")
        self.query_one("#chat-log", Transcript).add(said)
        sent = self.api.discover.send(self.slug, self.conversation_id, text)
        if await self.attempt(sent, "Sending") is None:
            give_back(field, text)

    def on_proposal_card_decided(self, event: ProposalCard.Decided) -> None:
        action = event.action
        if event.decision != "edit":
            self.decide(action, event.decision, None)
            return

        def edited(edits: dict[str, Any] | None) -> None:
            if edits is not None:
                self.decide(action, "confirm", edits)

        self.app.push_screen(EditProposalScreen(action["proposal"]), edited)

    @work(group="discover-decide")
    async def decide(
        self, action: dict[str, Any], decision: str, edits: dict[str, Any] | None
    ) -> None:
        assert self.conversation_id is not None
        try:
            decided = await self.api.discover.decide(
                self.slug, self.conversation_id, int(action["id"]), decision, edits or None
            )
        except ApiError as exc:
            self.notify_error("Deciding the proposal", exc)
            return
        self.load_chat()
        if decision == "reject":
            self.notify(f"Rejected proposal {action['id']}")
            return
        self.notify(made_summary(decided) or f"Confirmed proposal {action['id']}")
        self.post_message(self._destination(decided.get("result") or {}))

    def _destination(self, result: dict[str, Any]) -> Message:
        """Where a confirmed action's result lives: its queue, its plan, or its (first) ticket."""
        if result.get("queue"):
            return QueuesRequested(self.slug, result["queue"].get("project_id"))
        if result.get("plan"):
            return PlansOpenRequested(self.slug)
        ticket = (result.get("tickets") or [{}])[0] or result.get("ticket") or {}
        return TicketOpenRequested(self.slug, int(ticket["number"]))
