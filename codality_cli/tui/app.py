"""``CodalityApp``: wiring only — the API client, the one event stream, navigation, notifications.

Screens post navigation requests up (``TicketOpenRequested`` …) and the app pushes the screen;
events from ``live.py`` are forwarded to every live screen in the stack, so the board is current
when you come back to it. An agent that finishes or fails, and a work queue that pauses or
completes, is announced wherever you are.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen

from codality_cli.api import ApiError, ServerUnavailable
from codality_cli.tui.live import follow_events
from codality_cli.tui.messages import (
    ConnectionLost,
    ConnectionRestored,
    DiscoverOpenRequested,
    EventReceived,
    PlansOpenRequested,
    QueuesRequested,
    ReviewRequested,
    TicketOpenRequested,
)
from codality_cli.tui.screens.base import LiveScreen
from codality_cli.tui.screens.board import BoardScreen
from codality_cli.tui.screens.discover import DiscoverScreen
from codality_cli.tui.screens.plans import PlansScreen
from codality_cli.tui.screens.project_picker import ProjectPickerScreen
from codality_cli.tui.screens.queue import QueueScreen
from codality_cli.tui.screens.review import ReviewScreen
from codality_cli.tui.screens.ticket import TicketScreen

if TYPE_CHECKING:
    from codality_cli.api import ApiClient

FAILED = frozenset({"failed", "timed_out", "interrupted"})
DELTAS = frozenset({"agent:text_delta", "agent:thinking_delta"})
# A run's live events are kept from its ``agent:started`` until it stops, so a ticket opened
# mid-run shows the whole run, even the part of a text block not yet stored; a run longer than
# this falls back to the stored transcript.
LIVE_RUN_CAP = 50_000


def announcement(data: dict[str, Any], which: str) -> tuple[str, bool] | None:
    """(message, failed) for an ``agent:stopped`` worth telling the user; None for a user stop."""
    status = str(data.get("status") or "")
    if status != "completed" and status not in FAILED:
        return None
    if status == "completed":
        summary = str(data.get("summary") or "").strip()
        return f"Agent finished on {which}" + (f": {summary[:120]}" if summary else ""), False
    detail = str(data.get("error") or data.get("summary") or status.replace("_", " "))
    return f"Agent {status.replace('_', ' ')} on {which}: {detail[:120]}", True


def queue_announcement(type_: str, data: dict[str, Any]) -> tuple[str, bool] | None:
    """(message, failed) when a work queue stopped by itself: it paused or it completed."""
    queue = data.get("queue")
    if type_ not in ("queue:paused", "queue:completed") or not isinstance(queue, dict):
        return None
    name = queue.get("name", "")
    if type_ == "queue:completed":
        return f"Queue {name!r} completed", False
    return f"Queue {name!r} paused: {str(data.get('reason') or '')[:120]}", True


class CodalityApp(App[None]):
    """The board app over one ``ApiClient``, which it closes on exit."""

    CSS_PATH = "app.tcss"
    TITLE = "Codality"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    connected: reactive[bool] = reactive(True)

    def __init__(self, api: ApiClient, project: str | None = None, follow: bool = True) -> None:
        super().__init__()
        self.api = api
        self.project = project
        self.follow = follow
        self.ticket_numbers: dict[int, int] = {}
        self._live_runs: dict[int, list[EventReceived]] = {}

    def on_mount(self) -> None:
        if self.follow:
            self.run_worker(
                follow_events(self.api, self.post_message), group="live", exclusive=True
            )
        if self.project:
            self.open_board(self.project)
        else:
            self.choose_project()

    async def on_unmount(self) -> None:
        await self.api.aclose()

    # ---- navigation ------------------------------------------------------------------------

    @work(exclusive=True, group="projects")
    async def choose_project(self) -> None:
        try:
            projects = await self.api.projects.list()
        except (ApiError, ServerUnavailable) as exc:
            self.notify(f"Listing the projects failed: {exc}", severity="error", timeout=30)
            return
        if len(projects) == 1:
            self.open_board(str(projects[0]["slug"]))
        else:
            self.push_screen(ProjectPickerScreen(projects), self.open_board)

    def open_board(self, slug: str | None) -> None:
        if slug:
            self.project = slug
            self.push_screen(BoardScreen(slug))

    def on_ticket_open_requested(self, message: TicketOpenRequested) -> None:
        self.push_screen(TicketScreen(message.slug, message.number))

    def on_review_requested(self, message: ReviewRequested) -> None:
        self.push_screen(ReviewScreen(message.slug, message.number))

    def on_plans_open_requested(self, message: PlansOpenRequested) -> None:
        self.push_screen(PlansScreen(message.slug))

    def on_queues_requested(self, message: QueuesRequested) -> None:
        self.push_screen(QueueScreen(message.slug, message.project_id))

    def on_discover_open_requested(self, message: DiscoverOpenRequested) -> None:
        self.push_screen(DiscoverScreen(message.slug))

    # ---- the event stream ------------------------------------------------------------------

    def live_run(self, ticket_id: int) -> list[EventReceived] | None:
        """Every event of the ticket's running agent since it started, if this app saw it all."""
        events = self._live_runs.get(ticket_id)
        return list(events) if events is not None else None

    def _remember(self, message: EventReceived) -> None:
        ticket_id = message.ticket_id
        if message.type in ("ticket:created", "ticket:updated") and "number" in message.data:
            self.ticket_numbers[int(message.data["id"])] = int(message.data["number"])
        if ticket_id is None or not message.type.startswith("agent:"):
            return
        if message.type == "agent:started":
            self._live_runs[ticket_id] = []
        run = self._live_runs.get(ticket_id)
        if run is None:
            return
        run.append(message)
        if message.type == "agent:stopped" or len(run) > LIVE_RUN_CAP:
            del self._live_runs[ticket_id]

    def on_event_received(self, message: EventReceived) -> None:
        self._remember(message)
        if message.type == "agent:stopped" and message.ticket_id is not None:
            number = self.ticket_numbers.get(message.ticket_id)
            which = f"#{number}" if number is not None else f"ticket {message.ticket_id}"
            told = announcement(message.data, which)
            if told:
                text, failed = told
                self.notify(text, severity="error" if failed else "information", timeout=10)
                self.bell()
        queue_told = queue_announcement(message.type, message.data)
        if queue_told:
            text, failed = queue_told
            self.notify(text, severity="error" if failed else "information", timeout=10)
            self.bell()
        delta = message.type in DELTAS
        for screen in self.screen_stack:
            if isinstance(screen, LiveScreen) and (screen.WANTS_DELTAS or not delta):
                screen.post_message(message.copy())

    def on_connection_lost(self, message: ConnectionLost) -> None:
        self.connected = False

    def on_connection_restored(self, message: ConnectionRestored) -> None:
        self.connected = True
        for screen in self.screen_stack:
            if isinstance(screen, LiveScreen):
                screen.post_message(ConnectionRestored())

    # ---- command palette -------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every described key of the current screen, by name (``ctrl+p``)."""
        yield from super().get_system_commands(screen)
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if binding.description and binding.action not in seen:
                seen.add(binding.action)
                yield SystemCommand(
                    binding.description,
                    f"key: {binding.key_display or binding.key}",
                    partial(self.run_action, binding.action, active.node),
                )
