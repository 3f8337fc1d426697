"""``CodalityApp``: wiring only — the API client, the one event stream, navigation, notifications.

Screens post navigation requests up (``TicketOpenRequested`` …) and the app pushes the screen;
events from ``live.py`` are forwarded to every live screen in the stack, so the board is current
when you come back to it. An agent that finishes or fails, and a work queue that pauses or
completes, is announced wherever you are.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer

from codality_cli.api import ApiError, ServerUnavailable
from codality_cli.states import state_words
from codality_cli.tui.command_line import Command, CommandError
from codality_cli.tui.command_line import parse as parse_command
from codality_cli.tui.live import follow_events, is_text_delta
from codality_cli.tui.messages import (
    ConnectionLost,
    ConnectionRestored,
    DiscoverOpenRequested,
    EventReceived,
    PlansOpenRequested,
    ProjectSwitchRequested,
    PromptReady,
    QueuesRequested,
    ReviewRequested,
    TicketOpenRequested,
)
from codality_cli.tui.screens.base import LiveScreen
from codality_cli.tui.screens.board import BoardScreen
from codality_cli.tui.screens.command_line import CommandLineScreen
from codality_cli.tui.screens.discover import DiscoverScreen
from codality_cli.tui.screens.plans import PlansScreen
from codality_cli.tui.screens.project_picker import ProjectPickerScreen
from codality_cli.tui.screens.queue import QueueScreen
from codality_cli.tui.screens.review import ReviewScreen
from codality_cli.tui.screens.ticket import TicketScreen
from codality_cli.tui.toasts import ON_TOP, toasts_on_top

if TYPE_CHECKING:
    from codality_cli.api import ApiClient

FAILED = frozenset({"failed", "timed_out", "interrupted"})
# A run's live events are kept from its ``agent:started`` until it stops, so a ticket opened
# mid-run shows the whole run, even the part of a text block not yet stored; a run longer than
# this falls back to the stored transcript.
LIVE_RUN_CAP = 50_000
# Keys held for a prompt that is opening are let go after this long even if it never shows.
HOLD_KEYS_S = 2.0


def announcement(data: dict[str, Any], which: str) -> tuple[str, bool] | None:
    """(message, failed) for an ``agent:stopped`` worth telling the user; None for a user stop."""
    status = str(data.get("status") or "")
    if status != "completed" and status not in FAILED:
        return None
    if status == "completed":
        summary = str(data.get("summary") or "").strip()
        return f"Agent finished on {which}" + (f": {summary[:120]}" if summary else ""), False
    detail = str(data.get("error") or data.get("summary") or state_words(status))
    return f"Agent {state_words(status)} on {which}: {detail[:120]}", True


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
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
        Binding(
            "colon", "command_line", "Cmd", key_display=":", tooltip="Command line", show=False
        ),
    ]

    connected: reactive[bool] = reactive(True)

    def __init__(self, api: ApiClient, project: str | None = None, follow: bool = True) -> None:
        super().__init__()
        self.api = api
        self.project = project
        self.follow = follow
        self.ticket_numbers: dict[int, int] = {}
        self._live_runs: dict[int, list[EventReceived]] = {}
        self._held_keys: list[events.Key] | None = None
        self._hold_timer: Timer | None = None

    def on_mount(self) -> None:
        # The app's own objects live as long as it does; the collector need not walk them again
        # and again while a thousand tickets arrive (a third of the board's first paint).
        gc.freeze()
        self.screen_change_signal.subscribe(self, self._follow_layout)
        if self.follow:
            self.run_worker(
                follow_events(self.api, self.post_message), group="live", exclusive=True
            )
        if self.project:
            self.open_board(self.project)
        else:
            self.choose_project()

    async def on_unmount(self) -> None:
        gc.unfreeze()
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

    @property
    def board(self) -> BoardScreen | None:
        return next((s for s in self.screen_stack if isinstance(s, BoardScreen)), None)

    def show_board(self) -> BoardScreen | None:
        """Close every screen above the board (``:tickets``); None before a board is open."""
        board = self.board
        if board is not None:
            while self.screen is not board:
                self.pop_screen()
        return board

    def on_project_switch_requested(self, message: ProjectSwitchRequested) -> None:
        board = self.show_board()
        self.project = message.slug
        if board is None:
            self.push_screen(BoardScreen(message.slug))
        else:
            self.switch_screen(BoardScreen(message.slug))

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
        delta = is_text_delta(message.type, message.data)
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

    # ---- notifications, never over an input ------------------------------------------------

    def _follow_layout(self, screen: Screen[Any]) -> None:
        """Place the toasts of each screen shown whenever its layout changes (a toast came or
        went, a field appeared)."""
        if not self.is_running:  # (starting or closing: nothing to show)
            return
        screen.screen_layout_refresh_signal.unsubscribe(self)
        screen.screen_layout_refresh_signal.subscribe(self, self._laid_out)

    def _laid_out(self, screen: Screen[Any]) -> None:
        if screen is self.screen:
            self.place_toasts()

    def on_descendant_focus(self) -> None:
        self.call_after_refresh(self.place_toasts)

    def place_toasts(self) -> None:
        """Move the current screen's toasts off its text inputs (``toasts.py``)."""
        screen = self.screen
        on_top = toasts_on_top(screen)
        if on_top is not None:
            screen.set_class(on_top, ON_TOP)

    # ---- keys typed ahead of a prompt ------------------------------------------------------

    def hold_keys(self) -> None:
        """Keep the keys that arrive from now on until a prompt says it is ready.

        ``:`` and ``/`` open a prompt, which takes the focus only once it is mounted. Keys typed
        right after them (a fast typist, a script sending ``:open 2⏎`` in one write) were routed
        to the old focus before the ``:`` binding even ran, and come back up to the app to have
        the screen's bindings run — lost, or worse, taken as the board's keys (``n``, ``e``…).
        Held here, they are sent again once the prompt has the focus.
        """
        if self._held_keys is None:
            self._held_keys = []
            self._hold_timer = self.set_timer(HOLD_KEYS_S, self.release_keys)

    def release_keys(self) -> None:
        """Deliver the held keys, in order, to whatever has the focus now."""
        held, self._held_keys = self._held_keys, None
        if self._hold_timer is not None:
            self._hold_timer.stop()
            self._hold_timer = None
        for key in held or []:
            self.post_message(events.Key(key.key, key.character))

    def on_prompt_ready(self, message: PromptReady) -> None:
        self.release_keys()

    async def on_event(self, event: events.Event) -> None:
        # Both kinds: keys still to be routed, and keys already routed to the old focus that
        # come back up (bubbling) to have their bindings run.
        if self._held_keys is not None and isinstance(event, events.Key):
            self._held_keys.append(event)
            return
        await super().on_event(event)

    # ---- the command line and the palette --------------------------------------------------

    def action_command_line(self) -> None:
        self.hold_keys()
        self.push_screen(CommandLineScreen(), self._run_command_line)

    def _run_command_line(self, line: str | None) -> None:
        if line is None or not line.strip():
            return
        try:
            command = parse_command(line)
        except CommandError as exc:
            self.notify(str(exc), severity="warning")
            return
        self.run_command(command)

    def run_command(self, command: Command) -> None:
        """Do what a ``:`` command asks, from whichever screen is showing."""
        if command.name == "quit":
            self.exit()
        elif command.name == "project":
            self.find_project(command.argument)
        elif command.name == "help":
            if isinstance(self.screen, LiveScreen):
                self.screen.action_help()
        elif (board := self.show_board()) is None:
            self.notify("Choose a project first.", severity="warning")
        elif command.name == "plans":
            board.action_plans()
        elif command.name == "queues":
            board.action_queues()
        elif command.name == "discover":
            board.action_discover()
        elif command.name == "open":
            self.post_message(TicketOpenRequested(board.slug, int(command.argument)))
        elif command.name == "new":
            board.action_new_ticket()
        elif command.name == "filter":
            board.apply_filter(command.argument)
        elif command.name == "cancelled":
            self.call_later(board.action_toggle_cancelled)

    @work(exclusive=True, group="projects")
    async def find_project(self, name: str) -> None:
        """``:project NAME``: by slug or name (any case); the picker without a name."""
        try:
            projects = await self.api.projects.list()
        except (ApiError, ServerUnavailable) as exc:
            self.notify(f"Listing the projects failed: {exc}", severity="error")
            return
        if not name:
            picker = ProjectPickerScreen(projects, current=self.project)
            self.push_screen(picker, self._picked)
            return
        wanted = name.lower()
        found = [p for p in projects if wanted in (str(p["slug"]).lower(), str(p["name"]).lower())]
        if found:
            self.post_message(ProjectSwitchRequested(str(found[0]["slug"])))
        else:
            known = ", ".join(str(p["slug"]) for p in projects) or "none yet"
            self.notify(f"No project {name!r} (projects: {known})", severity="warning")

    def _picked(self, slug: str | None) -> None:
        if slug and slug != self.project:
            self.post_message(ProjectSwitchRequested(slug))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette (``ctrl+p``): each of our actions on this screen once, by its long name.

        Textual's own commands (themes, screenshots, maximize…) and widgets' built-in keys are
        left out; so are plain cursor moves (``system`` bindings).
        """
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            name = binding.tooltip or binding.description
            if not name or binding.system or name in seen:
                continue
            if not declared_here(active.node, binding):
                continue
            seen.add(name)
            yield SystemCommand(
                name,
                f"key: {self.get_key_display(binding)}",
                partial(self.run_action, binding.action, active.node),
            )


def declared_here(node: object, binding: Binding) -> bool:
    """Whether one of our own classes (not Textual's) declares this binding on the node."""
    for cls in type(node).__mro__:
        if not cls.__module__.startswith("codality_cli."):
            continue
        for declared in cls.__dict__.get("BINDINGS", []):
            if (
                isinstance(declared, Binding)
                and declared.action == binding.action
                and declared.description == binding.description
            ):
                return True
    return False
