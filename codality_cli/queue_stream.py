"""Following a running work queue in the terminal: each item's agent run in turn, under a
header naming its ticket, rendered by the agent stream printer.

Items may run side by side (``max_parallel``), so the runs are printed one at a time in the
order they started: events of a run not yet on screen wait in a buffer until the one before it
has ended. A run belongs to the queue when the start answer or a ``queue:started`` /
``queue:advanced`` event of this very start names its session; events of other runs on the same
tickets (earlier starts, manual runs) are never shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from .agent_stream import AgentPrinter

if TYPE_CHECKING:
    from .api.models import QueueView

FINAL_EVENTS = frozenset({"queue:completed", "queue:paused", "queue:cancelled"})
# Statuses a follower stops at when it finds them after a reconnect.
FINAL_STATUSES = frozenset({"completed", "paused", "cancelled"})


@dataclass
class QueueFollower:
    """Feed it the project channel's events; ``final`` is the queue once it stopped."""

    queue: QueueView
    printer: AgentPrinter
    final: QueueView | None = None
    _tickets: set[int] = field(default_factory=set)
    _order: list[int] = field(default_factory=list)  # sessions of this run, in start order
    _items: dict[int, Mapping[str, Any]] = field(default_factory=dict)  # session → item
    _buffers: dict[int, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    _ended: set[int] = field(default_factory=set)
    _headed: set[int] = field(default_factory=set)
    _shown: int = 0  # how many of ``_order`` have been printed to their end

    def __post_init__(self) -> None:
        self._tickets = {item["ticket_id"] for item in self.queue["items"]}
        for item in self.queue["items"]:
            session = item["session"]
            if item["status"] == "running" and session:
                self._claim(session, item)

    @property
    def queue_id(self) -> int:
        return int(self.queue["id"])

    def event(self, type_: str, data: dict[str, Any]) -> bool:
        """Take one event; True once the queue has stopped (completed, paused, cancelled)."""
        if type_.startswith("queue:"):
            return self._queue_event(type_, data)
        if type_.startswith("agent:"):
            self._agent_event(type_, data)
        return False

    def finish(self) -> None:
        """Print what the buffers still hold, run after run (the queue stopped)."""
        while self._shown < len(self._order):
            self._replay(self._order[self._shown])
            self._shown += 1
        self.printer.finish()

    # --- internals ----------------------------------------------------------------------------

    def _queue_event(self, type_: str, data: dict[str, Any]) -> bool:
        queue = data.get("queue")
        if not isinstance(queue, dict) or queue.get("id") != self.queue_id:
            return False
        if queue.get("started_at") != self.queue.get("started_at"):
            return False  # an earlier run of this queue, replayed from the ring
        self._tickets |= {int(item["ticket_id"]) for item in queue.get("items") or []}
        session, item = data.get("session"), data.get("item")
        if type_ in ("queue:started", "queue:advanced") and isinstance(session, dict):
            self._claim(int(session["id"]), item if isinstance(item, dict) else {})
        if type_ in FINAL_EVENTS:
            self.final = cast("QueueView", queue)  # the catalogue's queue:* payloads carry one
            self.finish()
            return True
        self._show_next()
        return False

    def _agent_event(self, type_: str, data: dict[str, Any]) -> None:
        session_id = data.get("session_id")
        if not isinstance(session_id, int):
            return
        if type_ == "agent:started" and data.get("ticket_id") in self._tickets:
            self._buffers.setdefault(session_id, [])
        if session_id not in self._buffers:
            return
        self._buffers[session_id].append((type_, data))
        if type_ == "agent:stopped":
            self._ended.add(session_id)
        self._show_next()

    def _claim(self, session_id: int, item: Mapping[str, Any]) -> None:
        if session_id in self._items:
            return
        self._items[session_id] = item
        self._order.append(session_id)
        self._buffers.setdefault(session_id, [])
        self._show_next()

    def _show_next(self) -> None:
        """Print the current run's waiting events; move on while runs have ended."""
        while self._shown < len(self._order):
            session_id = self._order[self._shown]
            self._replay(session_id)
            if session_id not in self._ended:
                return
            self._shown += 1

    def _replay(self, session_id: int) -> None:
        """The run's header (once), then its events so far."""
        if session_id not in self._headed:
            self._headed.add(session_id)
            item = self._items.get(session_id, {})
            total = len(self.queue.get("items") or [])
            where = f" · {item['position']} of {total}" if item.get("position") else ""
            self.printer.heading(f"══ #{item.get('ticket', '?')} {item.get('title', '')}{where}")
        events, self._buffers[session_id] = self._buffers.get(session_id, []), []
        for type_, data in events:
            self.printer.event(type_, data)
