"""The board: one column per status, live from the event stream, with the ticket actions.

The screen owns a ``BoardState`` and re-renders only the columns an event touched. Every network
call runs in a worker; message handlers only change state and widgets.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Footer

from codality_cli.tui.board_state import BoardState, Ticket
from codality_cli.tui.messages import (
    DiscoverOpenRequested,
    EventReceived,
    PlansOpenRequested,
    QueuesRequested,
    ReviewRequested,
    TicketOpenRequested,
)
from codality_cli.tui.screens.base import LiveScreen
from codality_cli.tui.screens.new_ticket import NewTicketScreen
from codality_cli.tui.widgets.filter_bar import FilterBar
from codality_cli.tui.widgets.status_bar import ConnectionBanner
from codality_cli.tui.widgets.status_column import StatusColumn
from codality_cli.tui.widgets.title_bar import TitleBar

PAGE = 500


class BoardScreen(LiveScreen):
    HELP_TITLE = "Board"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left,h", "move(-1)", "Column left", key_display="←/h", show=False),
        Binding("right,l", "move(1)", "Column right", key_display="→/l", show=False),
        Binding("enter", "open", "Open ticket", show=False),
        Binding("n", "new_ticket", "New ticket"),
        Binding("s", "start_agent", "Start agent"),
        Binding("x", "stop_agent", "Stop agent"),
        Binding("d", "review", "Review diff"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("p", "plans", "Plans"),
        Binding("q", "queues", "Queues"),
        Binding("c", "discover", "Discovery chat"),
        Binding("C", "toggle_cancelled", "Cancelled column", key_display="C", show=False),
        Binding("r", "reload", "Reload", show=False),
    ]

    def __init__(self, slug: str) -> None:
        super().__init__(id="board")
        self.slug = slug
        self.state = BoardState()
        self.sub_title = "board"

    def compose(self) -> ComposeResult:
        yield TitleBar(show_clock=False)
        yield ConnectionBanner()
        yield FilterBar()
        with Horizontal(id="columns"):
            yield from self._new_columns()
        yield Footer()

    def on_mount(self) -> None:
        self._focus_column("backlog")
        self.load()

    # ---- state → widgets -------------------------------------------------------------------

    @property
    def columns(self) -> list[StatusColumn]:
        return list(self.query(StatusColumn))

    def _new_columns(self) -> list[StatusColumn]:
        return [StatusColumn(status, title) for status, title in self.state.columns()]

    def _focus_column(self, status: str) -> None:
        columns = self.columns
        next((c for c in columns if c.status == status), columns[0]).focus()

    async def _rebuild_columns(self) -> None:
        """New columns after the cancelled toggle, keeping focus on the same status."""
        holder = self.query_one("#columns", Horizontal)
        focused = self.current_column
        await holder.remove_children()
        await holder.mount_all(self._new_columns())
        self._refresh_columns(None)
        self._focus_column(focused.status if focused else "backlog")

    def _refresh_columns(self, statuses: set[str] | None) -> None:
        """Refresh the named columns (all when None)."""
        for column in self.columns:
            if statuses is None or column.status in statuses:
                column.show_tickets(self.state.column_tickets(column.status))

    @property
    def current_column(self) -> StatusColumn | None:
        focused = self.focused
        return focused if isinstance(focused, StatusColumn) else None

    @property
    def current_ticket(self) -> int | None:
        column = self.current_column
        return column.highlighted_ticket if column else None

    def focus_ticket(self, number: int) -> None:
        """Put the cursor on a ticket wherever its column is (after creating it, for example)."""
        for column in self.columns:
            index = column.get_option_index(str(number)) if self._has(column, number) else None
            if index is not None:
                column.focus()
                column.highlighted = index

    @staticmethod
    def _has(column: StatusColumn | None, number: int) -> bool:
        return column is not None and any(option.id == str(number) for option in column.options)

    # ---- loading ---------------------------------------------------------------------------

    @work(exclusive=True, group="board-load")
    async def load(self) -> None:
        project = await self.attempt(self.api.projects.get(self.slug), "Loading the project")
        if project is None or not self.is_parent_active:
            return  # (the app may be closing: its header can no longer take a title)
        self.state.project_id = int(project["id"])
        self.title = str(project.get("name") or self.slug)
        tickets: list[Ticket] = []
        while True:
            page = await self.attempt(
                self.api.tickets.list(self.slug, limit=PAGE, offset=len(tickets)), "Loading tickets"
            )
            if page is None:
                return
            tickets += page
            if len(page) < PAGE:
                break
        queues = await self.attempt(self.api.queues.list(self.slug), "Loading the queues")
        # Tickets and queue marks land together, so the columns fill as soon as tickets are known.
        self.state.load_queues(queues or [])
        self.state.load(tickets)
        self._refresh_columns(None)

    # ---- live events -----------------------------------------------------------------------

    def on_event_received(self, event: EventReceived) -> None:
        touched: set[str] = set()
        if event.type in ("ticket:created", "ticket:updated"):
            before = self.state.tickets.get(int(event.data.get("id", 0)))
            if self.state.upsert(event.data):
                touched = {str(event.data.get("status"))}
                if before:
                    touched.add(str(before.get("status")))
        elif event.type.startswith("queue:"):
            queue = event.data.get("queue")
            if event.type == "queue:deleted":
                changed = self.state.drop_queue(int(event.data.get("id", 0)))
            else:
                changed = isinstance(queue, dict) and self.state.set_queue(queue)
            if changed:
                self._refresh_columns(None)
            return
        elif event.type in ("pr:created", "pr:updated") and event.ticket_id is not None:
            if self.state.set_pull_request(event.ticket_id, event.data.get("pull_request") or {}):
                touched = {str(self.state.tickets[event.ticket_id].get("status"))}
        elif event.type in ("agent:started", "agent:stopped") and event.ticket_id is not None:
            status = "running" if event.type == "agent:started" else event.data.get("status")
            if self.state.set_agent_status(event.ticket_id, str(status or "stopped")):
                touched = {str(self.state.tickets[event.ticket_id].get("status"))}
        if touched:
            selected = self.current_ticket
            self._refresh_columns(touched)
            if selected is not None and not self._has(self.current_column, selected):
                self.focus_ticket(selected)  # the selected ticket moved: the cursor follows it

    # ---- keys ------------------------------------------------------------------------------

    def action_move(self, step: int) -> None:
        columns = self.columns
        current = self.current_column
        index = columns.index(current) if current in columns else 0
        columns[(index + step) % len(columns)].focus()

    def action_open(self) -> None:
        number = self.current_ticket
        if number is not None:
            self.app.post_message(TicketOpenRequested(self.slug, number))

    def on_status_column_ticket_opened(self, message: StatusColumn.TicketOpened) -> None:
        self.app.post_message(TicketOpenRequested(self.slug, message.number))

    def action_review(self) -> None:
        number = self.current_ticket
        if number is not None:
            self.app.post_message(ReviewRequested(self.slug, number))

    def action_plans(self) -> None:
        self.app.post_message(PlansOpenRequested(self.slug))

    def action_queues(self) -> None:
        self.app.post_message(QueuesRequested(self.slug, self.state.project_id))

    def action_discover(self) -> None:
        self.app.post_message(DiscoverOpenRequested(self.slug))

    def action_new_ticket(self) -> None:
        self.app.push_screen(NewTicketScreen(), self._create_ticket)

    def _create_ticket(self, fields: dict[str, Any] | None) -> None:
        if fields:
            self.create_ticket(fields)

    @work(group="board-actions")
    async def create_ticket(self, fields: dict[str, Any]) -> None:
        ticket = await self.attempt(self.api.tickets.create(self.slug, fields), "Creating a ticket")
        if ticket is not None:
            self.state.upsert(ticket)
            self._refresh_columns({str(ticket.get("status"))})
            self.focus_ticket(int(ticket["number"]))
            self.notify(f"Created #{ticket['number']} {ticket['title']}")

    @work(group="board-actions")
    async def action_start_agent(self) -> None:
        number = self.current_ticket
        if number is None:
            return
        session = await self.attempt(self.api.agent.start(self.slug, number), "Starting the agent")
        if session is not None:
            self.notify(f"Agent started on #{number}")

    @work(group="board-actions")
    async def action_stop_agent(self) -> None:
        number = self.current_ticket
        if number is None:
            return
        if await self.attempt(self.api.agent.stop(self.slug, number), "Stopping the agent"):
            self.notify(f"Agent stopped on #{number}")

    def action_filter(self) -> None:
        self.query_one(FilterBar).open()

    def on_filter_bar_narrowed(self, message: FilterBar.Narrowed) -> None:
        self.state.needle = message.needle
        self._refresh_columns(None)

    def on_filter_bar_closed(self) -> None:
        self._focus_column("backlog")

    async def action_toggle_cancelled(self) -> None:
        self.state.show_cancelled = not self.state.show_cancelled
        await self._rebuild_columns()

    def action_reload(self) -> None:
        self.load()

    def on_connection_restored(self) -> None:
        self.load()
