"""One ticket: its fields, description and comments beside the live agent transcript.

On open the screen loads the ticket, its comments and the latest run's stored transcript, and
holds back live events for the ticket until that history is shown, so a run already in progress
reads in order: history first, then what streamed in meanwhile, then live. ``r`` lists every run
of the agent on the ticket; picking an earlier one replays its stored transcript (live events
then only update the status until the latest run is picked again).

The message box (steer or queue) shows only while an agent runs; the comment box is always there
and says whether a comment also reaches the agent (the server hands a comment on a ticket whose
agent runs to the agent as a steer message).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Input, Label, Markdown, Static

from codality_cli.agent_stream import counted, money, stored_entries, tokens_line
from codality_cli.ticket_work import work_outcome
from codality_cli.tui.board_state import agent_badge, pr_summary
from codality_cli.tui.messages import ConnectionRestored, EventReceived, ReviewRequested
from codality_cli.tui.screens.base import LiveScreen, give_back
from codality_cli.tui.screens.runs import RunsScreen
from codality_cli.tui.widgets.comment_list import CommentList
from codality_cli.tui.widgets.status_bar import ConnectionBanner
from codality_cli.tui.widgets.ticket_card import pr_style
from codality_cli.tui.widgets.title_bar import TitleBar
from codality_cli.tui.widgets.transcript import Transcript

if TYPE_CHECKING:
    from codality_cli.api.models import SessionView

MODES = ("steer", "queue")
COMMENT_HINTS = {
    True: "An agent is running: it gets your comment too (as a steer message).",
    False: "No agent is running: only people read comments.",
}
# Keys that only make sense while an agent runs, and one that only does when none does.
WHILE_RUNNING = frozenset({"focus_message", "toggle_mode", "stop_agent"})


def ticket_fields(ticket: Mapping[str, Any]) -> Text:
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


class TicketScreen(LiveScreen):
    HELP_TITLE = "Ticket"
    WANTS_DELTAS = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("t", "toggle_thinking", "Thinking", show=False),
        Binding("end", "latest", "Jump to latest", show=False),
        # Short words: the footer has to fit 80 columns (the help screen says more).
        Binding("s", "start_agent", "Start"),
        Binding("x", "stop_agent", "Stop"),
        Binding("r", "runs", "Runs"),
        Binding("d", "review", "Diff"),
        Binding("m", "focus_message", "Message"),
        Binding("c", "focus_comment", "Comment"),
        # Shown next to the message box instead of in the footer.
        Binding("ctrl+t", "toggle_mode", "Steer/queue", show=False, priority=True),
    ]

    def __init__(self, slug: str, number: int) -> None:
        super().__init__(id="ticket")
        self.slug = slug
        self.number = number
        self.ticket: Mapping[str, Any] | None = None
        self.mode = MODES[0]
        self._held: list[EventReceived] | None = []
        self.running = False
        # The ticket's agent sessions, newest first, and the earlier one replayed (None: latest).
        self.sessions: list[SessionView] = []
        self.replaying: int | None = None
        # What became of the work once the branch is gone: "merged in abc1234", "discarded".
        self.outcome: str | None = None

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
                yield Static(COMMENT_HINTS[False], id="comment-hint")
            with Vertical(id="agent"):
                yield Static("no agent run yet", id="agent-status")
                yield Static("", id="replay-banner")
                yield Transcript(id="transcript")
                yield Static("following paused — end: jump to latest", id="follow-hint")
                with Horizontal(id="message-row"):
                    yield Input(placeholder="Message the running agent", id="message-input")
                    yield Static(self._mode_label(), id="mode")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = f"{self.slug} #{self.number}"
        self.query_one(Transcript).focus()
        self.load()

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    # ---- loading ---------------------------------------------------------------------------

    def reload(self) -> None:
        """Load everything again, holding live events meanwhile (back to the latest run)."""
        self._held = []
        self.replaying = None
        self.load()

    @work(exclusive=True, group="ticket-load")
    async def load(self) -> None:
        ticket = await self.attempt(self.api.tickets.get(self.slug, self.number), "Loading")
        if ticket is None:
            self._held = None  # nothing to hold them for: do not pile events up
            return
        self._show_ticket(ticket)
        comments = await self.attempt(self.api.comments.list(self.slug, self.number), "Comments")
        self.query_one(CommentList).show(comments or [])
        status = await self.attempt(self.api.agent.status(self.slug, self.number), "Agent status")
        self.sessions = list(status["sessions"]) if status else []
        self._set_running(bool(status and status["running"]))
        self._show_replay_banner()
        if not ticket.get("branch") and self.sessions:
            self.outcome = await work_outcome(self.api, self.slug, self.number, self.sessions)
            self._show_ticket(ticket)
        live = self.codality.live_run(int(ticket["id"]))
        if live:
            # The app saw this run from its start: replay it whole (held events are in it).
            self._set_running(True)
            self.transcript.clear()
            self._status_line(live[0].data)
            for event in live:
                self.transcript.add_event(event.type, event.data)
            self._held = None
            return
        session = self.sessions[0] if self.sessions else None
        shown_up_to = 0
        if session is not None and session.get("id") is not None:
            full = await self.attempt(
                self.api.agent.session(self.slug, self.number, int(session["id"])), "Transcript"
            )
            self._show_session(full or session)
            shown_up_to = full["last_event_id"] if full else 0
        else:
            self.transcript.clear()
        held, self._held = self._held or [], None
        for event in held:
            # Agent events up to the transcript's ``last_event_id`` are already in it (a joined
            # run of deltas that only began before it is shown whole: twice beats never).
            if not (event.type.startswith("agent:") and (event.event_id or 0) <= shown_up_to):
                self._apply(event)

    def _show_ticket(self, ticket: Mapping[str, Any]) -> None:
        if not self.is_parent_active:
            return  # the app is closing: its header can no longer take a title
        self.ticket = ticket
        self.title = str(ticket.get("title", ""))
        fields = ticket_fields(ticket)
        if ticket.get("branch"):
            self.outcome = None
        elif self.outcome:
            fields.append(f"\nwork {self.outcome}", style="bold")
        self.query_one("#fields", Static).update(fields)
        description = str(ticket.get("description") or "*No description.*")
        self.query_one("#description", Markdown).update(description)

    def _show_session(self, session: Mapping[str, Any]) -> None:
        self._status_line(session)
        self.transcript.clear()
        self.transcript.add_event("agent:started", session)
        for type_, data in stored_entries(session["transcript"], "agent"):
            self.transcript.add_event(type_, data)
        if session.get("status") not in (None, "running"):
            self.transcript.add_event("agent:stopped", session)

    def _status_line(self, data: Mapping[str, Any]) -> None:
        """``running · model · $0.0123``: the session's cost as the CLI prints it, with its
        turns and its tokens as billed once it made any."""
        session = cast("SessionView", data)
        turns = counted(session["turns"], "turn") if session.get("turns") else ""
        tokens = tokens_line(dict(session)) if session.get("tokens_in") else ""
        parts = [session["status"], session["model"], turns, tokens, money(session["cost_usd"])]
        self.query_one("#agent-status", Static).update(" · ".join(p for p in parts if p))

    @work(exclusive=True, group="ticket-outcome")
    async def find_outcome(self) -> None:
        """The branch just went: say whether the work was merged or discarded."""
        self.outcome = await work_outcome(self.api, self.slug, self.number, self.sessions)
        if self.ticket is not None:
            self._show_ticket(self.ticket)

    def _set_running(self, running: bool) -> None:
        """Show the message box only while an agent runs; say where a comment goes."""
        self.running = running
        self.query_one("#message-row").display = running
        self.query_one("#comment-hint", Static).update(COMMENT_HINTS[running])
        if not running and self.focused is self.query_one("#message-input"):
            self.transcript.focus()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in WHILE_RUNNING:
            return self.running
        if action == "start_agent":
            return not self.running
        return True

    def _show_replay_banner(self) -> None:
        banner = self.query_one("#replay-banner", Static)
        ids = [s.get("id") for s in self.sessions]
        if self.replaying is None or self.replaying not in ids:
            banner.display = False
            return
        run = len(ids) - ids.index(self.replaying)
        newer = "the agent is running now" if self.running else "a later run is the latest"
        banner.update(f"replaying run {run} of {len(ids)} ({newer}) — r: pick another run")
        banner.display = True

    # ---- live events -----------------------------------------------------------------------

    def on_event_received(self, event: EventReceived) -> None:
        if self._held is not None:
            self._held.append(event)
        else:
            self._apply(event)

    def on_connection_restored(self, message: ConnectionRestored) -> None:
        if self.replaying is None:  # a replayed run is stored: nothing of it was missed
            self.reload()

    def _apply(self, event: EventReceived) -> None:
        if self.ticket is None or event.ticket_id != self.ticket.get("id"):
            return
        if event.type in ("agent:started", "agent:stopped"):
            self._track_session(event.type, event.data)
        if event.type == "ticket:updated":
            had_branch = bool(self.ticket.get("branch"))
            self._show_ticket(event.data)
            if had_branch and not event.data.get("branch"):
                self.find_outcome()
        elif event.type in ("pr:created", "pr:updated"):
            keys = ("number", "url", "state", "review_state", "checks")
            view = event.data.get("pull_request") or {}
            pr = {k: view.get(k) for k in keys}
            self._show_ticket({**self.ticket, "pull_request": pr})
        elif event.type == "comment:created":
            self.query_one(CommentList).add(event.data)
        elif event.type.startswith("agent:") and self.replaying is None:
            self.transcript.add_event(event.type, event.data)
            if event.type in ("agent:started", "agent:stopped"):
                self._status_line(event.data)

    def _track_session(self, type_: str, data: dict[str, Any]) -> None:
        """Keep the run list and the running flag current as runs start and end."""
        run = cast("SessionView", dict(data))  # agent:started and agent:stopped carry the session
        others = [s for s in self.sessions if s["id"] != run["id"]]
        self.sessions = (
            [run, *others]
            if type_ == "agent:started"
            else [run if s["id"] == run["id"] else s for s in self.sessions]
        )
        self._set_running(type_ == "agent:started")
        self._show_replay_banner()

    def on_transcript_follow_changed(self, message: Transcript.FollowChanged) -> None:
        self.query_one("#follow-hint").set_class(not message.following, "-visible")

    # ---- keys ------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss()

    def action_toggle_thinking(self) -> None:
        self.transcript.show_thinking = not self.transcript.show_thinking

    def action_latest(self) -> None:
        self.transcript.action_jump_to_latest()

    def action_runs(self) -> None:
        if not self.sessions:
            self.notify("No agent runs on this ticket yet (s starts one).")
            return
        shown = self.replaying if self.replaying is not None else self.sessions[0].get("id")
        self.app.push_screen(RunsScreen(self.number, self.sessions, shown), self._run_picked)

    def _run_picked(self, session_id: int | None) -> None:
        if session_id is None:
            return
        if session_id == self.sessions[0].get("id"):
            if self.replaying is not None:
                self.reload()  # back to the latest run, live again
        else:
            self.replay(session_id)

    @work(exclusive=True, group="ticket-load")
    async def replay(self, session_id: int) -> None:
        """Show an earlier run's stored transcript in place of the latest one."""
        full = await self.attempt(
            self.api.agent.session(self.slug, self.number, session_id), "Loading the run"
        )
        if full is None:
            return
        self.replaying = session_id
        self._held = None  # live events held for the latest run: picking it again reloads
        self._show_session(full)
        self._show_replay_banner()

    def action_review(self) -> None:
        self.app.post_message(ReviewRequested(self.slug, self.number))

    def action_focus_message(self) -> None:
        self.query_one("#message-input", Input).focus()

    def action_focus_comment(self) -> None:
        self.query_one("#comment-input", Input).focus()

    def action_toggle_mode(self) -> None:
        self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
        self.query_one("#mode", Static).update(self._mode_label())

    def _mode_label(self) -> Text:
        label = Text(self.mode, style="bold")
        label.append("\n^t", style="dim")
        return label

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        event.input.value = ""
        self.transcript.focus()  # keys act on the ticket again
        if event.input.id == "comment-input":
            self.post_comment(event.input, text)
        else:
            self.send_message(event.input, text, self.mode)

    @work(group="ticket-actions")
    async def post_comment(self, field: Input, body: str) -> None:
        comment = await self.attempt(
            self.api.comments.create(self.slug, self.number, body), "Posting the comment"
        )
        if comment is not None:
            self.query_one(CommentList).add(comment)
        else:
            give_back(field, body)

    @work(group="ticket-actions")
    async def send_message(self, field: Input, text: str, mode: str) -> None:
        sent = await self.attempt(
            self.api.agent.message(self.slug, self.number, text, mode=mode), "Sending the message"
        )
        if sent is None:
            give_back(field, text)

    @work(group="ticket-actions")
    async def action_start_agent(self) -> None:
        session = await self.attempt(self.api.agent.start(self.slug, self.number), "Starting")
        if session is not None:
            self.notify(f"Agent started on #{self.number}")

    @work(group="ticket-actions")
    async def action_stop_agent(self) -> None:
        await self.attempt(self.api.agent.stop(self.slug, self.number), "Stopping the agent")
