"""The board: one column per status, live from the event stream, with the ticket actions.

The screen owns a ``BoardState`` and re-renders only the columns an event touched. Every network
call runs in a worker; message handlers only change state and widgets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Footer

from codality_cli.api import ApiError, ServerUnavailable
from codality_cli.states import state_words
from codality_cli.ticket_work import (
    MERGE_AFTERMATH,
    merge_question,
    merged_names,
    push_outcome,
)
from codality_cli.tui.board_state import STATUSES, BoardState, Ticket, neighbour_status
from codality_cli.tui.messages import (
    DiscoverOpenRequested,
    EventReceived,
    PlansOpenRequested,
    ProjectSwitchRequested,
    QueuesRequested,
    ReviewRequested,
    TicketOpenRequested,
)
from codality_cli.tui.screens.assign import ASSIGN_NOBODY, AssignScreen
from codality_cli.tui.screens.base import LiveScreen
from codality_cli.tui.screens.confirm import ConfirmScreen
from codality_cli.tui.screens.new_ticket import NewTicketScreen
from codality_cli.tui.screens.project_picker import ProjectPickerScreen
from codality_cli.tui.screens.review import conflict_paths
from codality_cli.tui.widgets.filter_bar import FilterBar
from codality_cli.tui.widgets.status_bar import ConnectionBanner
from codality_cli.tui.widgets.status_column import StatusColumn
from codality_cli.tui.widgets.ticket_card import assignee_label
from codality_cli.tui.widgets.title_bar import TitleBar

PAGE = 500


class BoardScreen(LiveScreen):
    HELP_TITLE = "Board"
    # The footer shows the few keys that fit 80 columns; every key is in help (?) and, by its
    # long name (the tooltip), in the command palette (ctrl+p).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left,h", "move(-1)", "Column left", key_display="←/h", show=False, system=True),
        Binding("right,l", "move(1)", "Column right", key_display="→/l", show=False, system=True),
        Binding("enter", "open", "Open ticket", show=False),
        Binding("n", "new_ticket", "New", tooltip="New ticket"),
        Binding("e", "edit", "Edit", tooltip="Edit the ticket"),
        Binding("a", "assign", "Assign", tooltip="Assign the ticket to someone"),
        Binding("i", "assign_me", "Assign to me", show=False),
        Binding("s", "start_agent", "Start", tooltip="Start the agent"),
        Binding("x", "stop_agent", "Stop agent", show=False),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("colon", "app.command_line", "Cmd", key_display=":", tooltip="Command line"),
        Binding("q", "app.quit", "Quit"),
        Binding("less_than_sign", "shift(-1)", "Move card left", key_display="<", show=False),
        Binding("greater_than_sign", "shift(1)", "Move card right", key_display=">", show=False),
        *(
            Binding(str(n), f"move_to('{s}')", f"Move to {state_words(s)}", show=False)
            for n, s in enumerate(STATUSES, 1)
        ),
        Binding("d", "review", "Review diff", show=False),
        Binding("A", "approve", "Approve", key_display="A", show=False),
        Binding("M", "merge", "Merge", key_display="M", show=False),
        Binding("D", "discard", "Discard", key_display="D", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("p", "switch_project", "Switch project", show=False),
        Binding("P", "plans", "Plans", key_display="P", show=False),
        Binding("Q", "queues", "Queues", key_display="Q", show=False),
        Binding("c", "discover", "Discovery chat", show=False),
        Binding("C", "toggle_cancelled", "Cancelled column", key_display="C", show=False),
        Binding("r", "reload", "Reload", show=False),
    ]

    def __init__(self, slug: str) -> None:
        super().__init__(classes="board")
        self.slug = slug
        self.state = BoardState()
        self.sub_title = "board"
        self._before_filter = "backlog"
        self._loaded = False

    def compose(self) -> ComposeResult:
        yield TitleBar(show_clock=False)
        yield ConnectionBanner()
        yield FilterBar()
        with Horizontal(id="columns"):
            yield from self._new_columns()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._focus_column("backlog")
        self.load()

    # ---- state → widgets -------------------------------------------------------------------

    @property
    def columns(self) -> list[StatusColumn]:
        return list(self.query(StatusColumn))

    def column(self, status: str) -> StatusColumn | None:
        return next((c for c in self.columns if c.status == status), None)

    def _new_columns(self) -> list[StatusColumn]:
        return [StatusColumn(*names) for names in self.state.columns()]

    def _focus_column(self, status: str) -> None:
        columns = self.columns
        (self.column(status) or columns[0]).focus()

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

    def focus_ticket(self, number: int) -> bool:
        """Put the cursor on a ticket wherever its column is (after creating it, for example)."""
        for column in self.columns:
            if column.select(number):
                column.focus()
                return True
        return False

    # ---- loading ---------------------------------------------------------------------------

    @work(exclusive=True, group="board-load")
    async def load(self) -> None:
        """The project, its tickets and its queues, asked for at once; the columns fill in one
        pass when everything has arrived (keeping what the stream changed meanwhile)."""
        self.state.begin_load()
        project_call = self.attempt(self.api.projects.get(self.slug), "Loading the project")
        queues_call = self.attempt(self.api.queues.list(self.slug), "Loading the queues")
        project, tickets, queues = await asyncio.gather(project_call, self._tickets(), queues_call)
        if project is None or tickets is None or not self.is_parent_active:
            return  # (the app may be closing: its header can no longer take a title)
        self.state.project_id = int(project["id"])
        self.title = str(project.get("name") or self.slug)
        self.state.load_queues(queues or [])
        self.state.load(tickets)
        self._refresh_columns(None)
        if not self._loaded:
            self._loaded = True
            self._open_on_a_card()

    def _open_on_a_card(self) -> None:
        """The first view puts the cursor on a card: the backlog's, else the first one shown
        (a board whose cards all wait in review must not open on an empty column)."""
        column = self.current_column
        first = self.state.first_match()
        if (column is None or column.highlighted_ticket is None) and first is not None:
            self.focus_ticket(int(first["number"]))

    async def _tickets(self) -> list[Ticket] | None:
        """Every ticket, a page at a time; after a full page the next two are asked together,
        so a board of exactly a thousand needs two round trips rather than three."""
        tickets: list[Ticket] = []
        want = 1
        while True:
            calls = [
                self.api.tickets.list(self.slug, limit=PAGE, offset=len(tickets) + i * PAGE)
                for i in range(want)
            ]
            pages = await self.attempt(asyncio.gather(*calls), "Loading tickets")
            if pages is None:
                return None
            for page in pages:
                tickets += page
                if len(page) < PAGE:
                    return tickets
            want = 2

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
            column = self.current_column
            if selected is not None and (column is None or column.index_of(selected) is None):
                self.focus_ticket(selected)  # the selected ticket moved: the cursor follows it

    # ---- moving around ---------------------------------------------------------------------

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

    @work(exclusive=True, group="board-projects")
    async def action_switch_project(self) -> None:
        projects = await self.attempt(self.api.projects.list(), "Listing the projects")
        if projects is not None:
            picker = ProjectPickerScreen(projects, current=self.slug)
            self.app.push_screen(picker, self._switch_to)

    def _switch_to(self, slug: str | None) -> None:
        if slug and slug != self.slug:
            self.app.post_message(ProjectSwitchRequested(slug))

    # ---- the filter ------------------------------------------------------------------------

    def action_filter(self) -> None:
        column = self.current_column
        if column is not None:
            self._before_filter = column.status
        self.codality.hold_keys()  # until the bar has the focus
        self.query_one(FilterBar).open()

    def apply_filter(self, needle: str) -> None:
        """Show only matching cards and put the cursor on the first (``:filter``, ``/``+enter)."""
        bar = self.query_one(FilterBar)
        bar.value = needle
        self.state.needle = needle
        self._refresh_columns(None)
        bar.set_class(bool(needle), "-open")
        self._focus_first_match()

    def _focus_first_match(self) -> None:
        first = self.state.first_match()
        if first is None or not self.focus_ticket(int(first["number"])):
            self._focus_column(self._before_filter)

    def on_filter_bar_narrowed(self, message: FilterBar.Narrowed) -> None:
        self.state.needle = message.needle
        self._refresh_columns(None)

    def on_filter_bar_closed(self, message: FilterBar.Closed) -> None:
        if message.submitted and self.state.needle:
            self._focus_first_match()
        else:
            self._focus_column(self._before_filter)

    def action_clear_filter(self) -> None:
        """Escape on the board: every card again, the cursor staying on the card it was on."""
        if self.state.needle:
            column = self.current_column
            if column is not None:
                self._before_filter = column.status
            self.query_one(FilterBar).action_close(True)

    async def action_toggle_cancelled(self) -> None:
        self.state.show_cancelled = not self.state.show_cancelled
        await self._rebuild_columns()

    def action_reload(self) -> None:
        self.load()

    def on_connection_restored(self) -> None:
        self.load()

    # ---- changing tickets ------------------------------------------------------------------

    def _took(self, ticket: Ticket, follow: bool = True) -> None:
        """Show a ticket the server answered with, the cursor following it to its column."""
        before = self.state.tickets.get(int(ticket["id"]))
        if not self.state.upsert(ticket):
            return
        touched = {str(ticket.get("status"))}
        if before:
            touched.add(str(before.get("status")))
        self._refresh_columns(touched)
        if follow:
            self.focus_ticket(int(ticket["number"]))

    def action_new_ticket(self) -> None:
        self.app.push_screen(NewTicketScreen(self._create_ticket), self._created)

    async def _create_ticket(self, fields: dict[str, Any]) -> Ticket | None:
        return await self.attempt(self.api.tickets.create(self.slug, fields), "Creating a ticket")

    def _created(self, ticket: Ticket | None) -> None:
        if ticket is not None:
            self._took(ticket)
            self.notify(f"Created #{ticket['number']} {ticket['title']}")

    def action_edit(self) -> None:
        number = self.current_ticket
        ticket = self.state.by_number(number) if number is not None else None
        if number is not None and ticket is not None:
            save = partial(self._update_ticket, number)
            self.app.push_screen(NewTicketScreen(save, ticket), partial(self._saved, number))

    async def _update_ticket(self, number: int, fields: dict[str, Any]) -> Ticket | None:
        return await self.attempt(
            self.api.tickets.update(self.slug, number, fields), f"Saving #{number}"
        )

    def _saved(self, number: int, ticket: Ticket | None) -> None:
        if ticket is not None:
            self._took(ticket)
            self.notify(f"Saved #{number}")

    def action_shift(self, step: int) -> None:
        number = self.current_ticket
        ticket = self.state.by_number(number) if number is not None else None
        if ticket is None:
            return
        target = neighbour_status(str(ticket["status"]), step, self.state.show_cancelled)
        if target is None:
            self.notify(f"#{number} is already in the {'first' if step < 0 else 'last'} column.")
        else:
            self.move_ticket(int(ticket["number"]), target)

    def action_move_to(self, status: str) -> None:
        number = self.current_ticket
        if number is not None:
            self.move_ticket(number, status)

    @work(group="board-actions")
    async def move_ticket(self, number: int, status: str) -> None:
        call = self.api.tickets.set_status(self.slug, number, status)
        ticket = await self.attempt(call, f"Moving #{number}")
        if ticket is None:
            return
        self._took(ticket)
        if status == "cancelled" and not self.state.show_cancelled:
            self.notify(f"Cancelled #{number} (C shows the cancelled column).")

    @work(exclusive=True, group="board-assign")
    async def action_assign(self) -> None:
        number = self.current_ticket
        if number is None:
            return
        me = await self.attempt(self.api.me.show(), "Finding who you are")
        people = await self.attempt(self.api.users.people(), "Finding people") or []
        picker = AssignScreen(number, me, people)
        self.app.push_screen(picker, partial(self._assign_picked, number))

    def _assign_picked(self, number: int, who: int | str | None) -> None:
        if who is not None:
            self.assign(number, None if who == ASSIGN_NOBODY else who)

    @work(group="board-actions")
    async def action_assign_me(self) -> None:
        number = self.current_ticket
        me = await self.attempt(self.api.me.show(), "Finding who you are")
        if number is not None and me is not None:
            self.assign(number, int(me["id"]))

    @work(group="board-actions")
    async def assign(self, number: int, who: int | str | None) -> None:
        ticket = await self.attempt(self.api.tickets.assign(self.slug, number, who), "Assigning")
        if ticket is not None:
            self._took(ticket, follow=False)
            self.notify(f"Assigned #{number} to {assignee_label(ticket) or 'nobody'}")

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

    # ---- approve, merge, discard (each asks first) -----------------------------------------

    def _confirm(self, question: str, label: str, then: Callable[[int], Any]) -> None:
        number = self.current_ticket
        if number is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                then(number)

        self.app.push_screen(ConfirmScreen(question.format(n=number), label), answered)

    def action_approve(self) -> None:
        self._confirm("Approve the agent's work on #{n}?", "Approve", self.approve)

    def action_merge(self) -> None:
        if self.current_ticket is not None:
            self.ask_merge(self.current_ticket)

    @work(group="board-actions")
    async def ask_merge(self, number: int) -> None:
        """Ask with what the merge will do: the tickets it merges and whether it pushes."""
        plan = await self.attempt(self.api.worktrees.merge_plan(self.slug, number), "Merging")
        if plan is None:
            return
        question = f"{merge_question(plan)} {MERGE_AFTERMATH}"

        def answered(yes: bool | None) -> None:
            if yes:
                self.merge(number)

        self.app.push_screen(ConfirmScreen(question, "Merge"), answered)

    def action_discard(self) -> None:
        question = (
            "Discard the work on #{n}? The worktree and branch are removed (the branch tip is "
            "kept under refs/codality/discarded/)."
        )
        self._confirm(question, "Discard", self.discard)

    @work(group="board-actions")
    async def approve(self, number: int) -> None:
        call = self.api.reviews.create(self.slug, number, "approved", "", [])
        if await self.attempt(call, f"Approving #{number}") is not None:
            self.notify(f"Approved #{number}")

    @work(group="board-actions")
    async def merge(self, number: int) -> None:
        try:
            merged = await self.api.worktrees.merge(self.slug, number)
        except ApiError as exc:
            paths = "".join(f"\n  {path}" for path in conflict_paths(exc))
            self.notify(f"Merging #{number} failed: {exc.message}{paths}", severity="error")
            return
        except ServerUnavailable as exc:
            self.notify(f"Merging #{number} failed: {exc}", severity="error")
            return
        self._took(merged["ticket"])
        sha = str((merged.get("merge") or {}).get("after") or "")[:9]
        pushed = push_outcome(number, merged["push"])
        merged_in = f" in {sha}" if sha else ""
        self.notify(f"Merged {merged_names(merged)}{merged_in}; {pushed}")

    @work(group="board-actions")
    async def discard(self, number: int) -> None:
        done = await self.attempt(self.api.worktrees.discard(self.slug, number), "Discarding")
        if done is not None:
            self._took(done["ticket"])
            self.notify(f"Discarded the work on #{number}")
