"""One ticket: its fields, description and comments beside the live agent transcript.

On open the screen loads the ticket, its comments and the latest run's stored transcript, and
holds back live events for the ticket until that history is shown, so a run already in progress
reads in order: history first, then what streamed in meanwhile, then live.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Input, Label, Markdown, Static

from codality_cli.tui.board_state import agent_badge, pr_summary
from codality_cli.tui.messages import EventReceived, ReviewRequested
from codality_cli.tui.screens.base import LiveScreen
from codality_cli.tui.widgets.comment_list import CommentList
from codality_cli.tui.widgets.status_bar import ConnectionBanner
from codality_cli.tui.widgets.ticket_card import pr_style
from codality_cli.tui.widgets.title_bar import TitleBar
from codality_cli.tui.widgets.transcript import Transcript

if TYPE_CHECKING:
    from codality_cli.api.event_types import SessionView, TranscriptBlockView

MODES = ("steer", "queue")


def ticket_fields(ticket: dict[str, Any]) -> Text:
    """The header block: number and title, then status, kind, priority, branch, agent badge."""
    text = Text()
    text.append(f"#{ticket.get('number')} {ticket.get('title', '')}\n", style="bold")
    text.append(f"{ticket.get('status', '')} · {ticket.get('kind', '')} · ")
    text.append(f"{ticket.get('priority', '')}")
    badge = agent_badge(ticket)
    if badge:
        text.append(f"  [{badge}]", style="bold")
    if ticket.get("depends_on"):
        waits_for = ", ".join(f"#{n}" for n in ticket["depends_on"])
        text.append(f"\ndepends on {waits_for}", style="dim")
    if ticket.get("branch"):
        text.append(f"\nbranch {ticket['branch']}", style="dim")
    pr = pr_summary(ticket)
    if pr:
        text.append(f"\n{pr}", style=pr_style(ticket))
    return text


def stored_blocks(session: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A stored session's transcript as (event type, data) pairs the transcript widget takes: a
    block's ``data`` is its event's payload (a whole text block reads as one delta)."""
    blocks = cast("list[TranscriptBlockView]", session["transcript"])
    pairs: list[tuple[str, dict[str, Any]]] = []
    for block in blocks:
        kind = {"text": "text_delta", "thinking": "thinking_delta"}.get(
            block["kind"], block["kind"]
        )
        pairs.append((f"agent:{kind}", block["data"]))
    return pairs


class TicketScreen(LiveScreen):
    HELP_TITLE = "Ticket"
    WANTS_DELTAS = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("t", "toggle_thinking", "Thinking"),
        Binding("end", "latest", "Jump to latest", show=False),
        Binding("s", "start_agent", "Start agent"),
        Binding("x", "stop_agent", "Stop agent"),
        Binding("d", "review", "Diff"),
        Binding("m", "focus_message", "Message agent"),
        Binding("c", "focus_comment", "Comment"),
        Binding("ctrl+t", "toggle_mode", "Steer/queue", priority=True),
    ]

    def __init__(self, slug: str, number: int) -> None:
        super().__init__(id="ticket")
        self.slug = slug
        self.number = number
        self.ticket: dict[str, Any] | None = None
        self.mode = MODES[0]
        self._held: list[EventReceived] | None = []

    def compose(self) -> ComposeResult:
        yield TitleBar(show_clock=False)
        yield ConnectionBanner()
        with Horizontal(id="ticket-body"):
            with VerticalScroll(id="details"):
                yield Static(f"#{self.number}", id="fields")
                yield Markdown("", id="description")
                yield Label("Comments", classes="section")
                yield CommentList(id="comments")
                yield Input(placeholder="Add a comment (enter to post)", id="comment-input")
            with Vertical(id="agent"):
                yield Static("no agent run yet", id="agent-status")
                yield Transcript(id="transcript")
                yield Static("following paused — end: jump to latest", id="follow-hint")
                with Horizontal(id="message-row"):
                    yield Input(placeholder="Message the running agent", id="message-input")
                    yield Static(self.mode, id="mode")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"{self.slug} #{self.number}"
        self.query_one(Transcript).focus()
        self.load()

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    # ---- loading ---------------------------------------------------------------------------

    @work(exclusive=True, group="ticket-load")
    async def load(self) -> None:
        ticket = await self.attempt(self.api.tickets.get(self.slug, self.number), "Loading")
        if ticket is None:
            return
        self._show_ticket(ticket)
        comments = await self.attempt(self.api.comments.list(self.slug, self.number), "Comments")
        self.query_one(CommentList).show(comments or [])
        live = self.codality.live_run(int(ticket["id"]))
        if live:
            # The app saw this run from its start: replay it whole (held events are in it).
            self.transcript.clear()
            self._status_line(live[0].data)
            for event in live:
                self.transcript.add_event(event.type, event.data)
            self._held = None
            return
        status = await self.attempt(self.api.agent.status(self.slug, self.number), "Agent status")
        session = (status or {}).get("session")
        shown_up_to = 0
        if isinstance(session, dict) and session.get("id") is not None:
            full = await self.attempt(
                self.api.agent.session(self.slug, self.number, int(session["id"])), "Transcript"
            )
            self._show_session(full or session)
            shown_up_to = int((full or {}).get("last_event_id") or 0)
        held, self._held = self._held or [], None
        for event in held:
            # Agent events up to the transcript's ``last_event_id`` are already in it.
            if not (event.type.startswith("agent:") and (event.event_id or 0) <= shown_up_to):
                self._apply(event)

    def _show_ticket(self, ticket: dict[str, Any]) -> None:
        if not self.is_parent_active:
            return  # the app is closing: its header can no longer take a title
        self.ticket = ticket
        self.title = str(ticket.get("title", ""))
        self.query_one("#fields", Static).update(ticket_fields(ticket))
        description = str(ticket.get("description") or "*No description.*")
        self.query_one("#description", Markdown).update(description)

    def _show_session(self, session: dict[str, Any]) -> None:
        self._status_line(session)
        self.transcript.clear()
        self.transcript.add_event("agent:started", session)
        for type_, data in stored_blocks(session):
            self.transcript.add_event(type_, data)
        if session.get("status") not in (None, "running"):
            self.transcript.add_event("agent:stopped", session)

    def _status_line(self, data: dict[str, Any]) -> None:
        session = cast("SessionView", data)
        parts = [session["status"], session["model"]]
        if session["cost_usd"]:
            parts.append(f"${session['cost_usd']:.2f}")
        self.query_one("#agent-status", Static).update(" · ".join(p for p in parts if p))

    # ---- live events -----------------------------------------------------------------------

    def on_event_received(self, event: EventReceived) -> None:
        if self._held is not None:
            self._held.append(event)
        else:
            self._apply(event)

    def _apply(self, event: EventReceived) -> None:
        if self.ticket is None or event.ticket_id != self.ticket.get("id"):
            return
        if event.type == "ticket:updated":
            self._show_ticket(event.data)
        elif event.type in ("pr:created", "pr:updated"):
            keys = ("number", "url", "state", "review_state", "checks")
            view = event.data.get("pull_request") or {}
            pr = {k: view.get(k) for k in keys}
            self._show_ticket({**self.ticket, "pull_request": pr})
        elif event.type == "comment:created":
            self.query_one(CommentList).add(event.data)
        elif event.type.startswith("agent:"):
            self.transcript.add_event(event.type, event.data)
            if event.type in ("agent:started", "agent:stopped"):
                self._status_line(event.data)

    def on_transcript_follow_changed(self, message: Transcript.FollowChanged) -> None:
        self.query_one("#follow-hint").set_class(not message.following, "-visible")

    # ---- keys ------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss()

    def action_toggle_thinking(self) -> None:
        self.transcript.show_thinking = not self.transcript.show_thinking

    def action_latest(self) -> None:
        self.transcript.action_jump_to_latest()

    def action_review(self) -> None:
        self.app.post_message(ReviewRequested(self.slug, self.number))

    def action_focus_message(self) -> None:
        self.query_one("#message-input", Input).focus()

    def action_focus_comment(self) -> None:
        self.query_one("#comment-input", Input).focus()

    def action_toggle_mode(self) -> None:
        self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
        self.query_one("#mode", Static).update(self.mode)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        event.input.value = ""
        self.transcript.focus()  # keys act on the ticket again
        if event.input.id == "comment-input":
            self.post_comment(text)
        else:
            self.send_message(text, self.mode)

    @work(group="ticket-actions")
    async def post_comment(self, body: str) -> None:
        comment = await self.attempt(
            self.api.comments.create(self.slug, self.number, body), "Posting the comment"
        )
        if comment is not None:
            self.query_one(CommentList).add(comment)

    @work(group="ticket-actions")
    async def send_message(self, text: str, mode: str) -> None:
        await self.attempt(
            self.api.agent.message(self.slug, self.number, text, mode=mode), "Sending the message"
        )

    @work(group="ticket-actions")
    async def action_start_agent(self) -> None:
        session = await self.attempt(self.api.agent.start(self.slug, self.number), "Starting")
        if session is not None:
            self.notify(f"Agent started on #{self.number}")

    @work(group="ticket-actions")
    async def action_stop_agent(self) -> None:
        await self.attempt(self.api.agent.stop(self.slug, self.number), "Stopping the agent")
