"""What the board shows, kept apart from how: tickets by column, agent badges, costs, the filter.

Plain Python (no Textual), so the grouping rules are cheap to reason about and the board screen only
turns this state into widgets. Tickets are the API's JSON views, keyed by ticket id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from codality_cli.states import state_title, state_words

#: A ticket's view: from the API (``api.models.Ticket``) or a ``ticket:updated`` event.
Ticket = Mapping[str, Any]

# (status, title): the title is the status in the words `codality ticket status` shows it in.
BOARD_ORDER = ("inbox", "backlog", "in_progress", "in_review", "done")
COLUMNS: tuple[tuple[str, str], ...] = tuple((s, state_title(s)) for s in BOARD_ORDER)
CANCELLED: tuple[str, str] = ("cancelled", state_title("cancelled"))
# Every status in board order: the targets of ``1``–``6`` and of ``<``/``>``.
STATUSES: tuple[str, ...] = tuple(status for status, _ in (*COLUMNS, CANCELLED))

FAILED_STATUSES = frozenset({"failed", "timed_out", "interrupted"})
# A queue in one of these still has tickets to work on; the board marks them.
LIVE_QUEUES = frozenset({"pending", "running", "paused"})


def agent_badge(ticket: Ticket) -> str | None:
    """The card's agent badge: ``running``, ``needs review``, how a run ended badly or nothing.

    ``needs review`` is the honest "needs you" state: the agent finished and the ticket waits in
    review. A run that ended badly says how in the words the CLI uses (``state_words``):
    ``failed``, ``timed out`` or ``interrupted`` (the server stopped or restarted under it). A
    stopped run is the user's own doing and earns no badge.
    """
    status = ticket.get("agent_status")
    if status == "running":
        return "running"
    if status in FAILED_STATUSES:
        return state_words(str(status))
    if status == "completed" and ticket.get("status") == "in_review":
        return "needs review"
    return None


PR_MARKS = (("passed", "✓"), ("failed", "✗"), ("pending", "●"))


def pr_summary(ticket: Ticket) -> str | None:
    """The card's pull request: ``PR #3 open ✓2 ✗1 ●0 approved`` (None without a PR).

    Counts are the repository's own CI checks; the review state shows once there is one.
    """
    pr = ticket.get("pull_request")
    if not isinstance(pr, dict) or pr.get("number") is None:
        return None
    checks = pr.get("checks") or {}
    marks = " ".join(f"{mark}{checks.get(key, 0)}" for key, mark in PR_MARKS)
    text = f"PR #{pr['number']} {pr.get('state', '')} {marks}"
    review = pr.get("review_state")
    if review and review != "pending":
        text += f" {state_words(str(review))}"
    return text


def matches(ticket: Ticket, needle: str) -> bool:
    """Filter rule: every word appears in ``#number title kind priority @assignee``, in any
    case."""
    if not needle:
        return True
    haystack = (
        f"#{ticket.get('number')} {ticket.get('title', '')} "
        f"{ticket.get('kind', '')} {ticket.get('priority', '')} "
        f"@{ticket.get('assignee_name') or ticket.get('assignee') or ''}"
    ).lower()
    return all(word in haystack for word in needle.lower().split())


@dataclass
class BoardState:
    """The tickets of one project plus the viewer's choices (filter, cancelled column)."""

    project_id: int | None = None
    tickets: dict[int, Ticket] = field(default_factory=dict)
    needle: str = ""
    show_cancelled: bool = False
    # The project's work queues by id, and for each ticket the queue still to work on it.
    queues: dict[int, Mapping[str, Any]] = field(default_factory=dict)
    queued: dict[int, str] = field(default_factory=dict)
    # Tickets the stream (or an answer) changed since ``begin_load``: newer than the snapshot
    # being loaded, which may have been read before they changed (a reload on reconnecting).
    _changed: dict[int, Ticket] | None = None

    def begin_load(self) -> None:
        """A snapshot is being fetched: remember what changes meanwhile, to keep it."""
        self._changed = {}

    def load(self, tickets: Sequence[Ticket]) -> None:
        """Take a snapshot of every ticket, except those changed since ``begin_load``."""
        self.tickets = {int(t["id"]): t for t in tickets}
        self.tickets.update(self._changed or {})
        self._changed = None

    def _set(self, ticket_id: int, ticket: Ticket) -> None:
        self.tickets[ticket_id] = ticket
        if self._changed is not None:
            self._changed[ticket_id] = ticket

    def upsert(self, ticket: Ticket) -> bool:
        """Take a ``ticket:updated`` view; False when it belongs to another project."""
        if self.project_id is not None and ticket.get("project_id") != self.project_id:
            return False
        self._set(int(ticket["id"]), ticket)
        return True

    def set_agent_status(self, ticket_id: int, status: str) -> bool:
        """Record an agent start or stop seen on the stream; False for an unknown ticket.

        The cost on the card comes with the ``ticket:updated`` view published as a run ends.
        """
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            return False
        self._set(ticket_id, {**ticket, "agent_status": status})
        return True

    def load_queues(self, queues: Sequence[Mapping[str, Any]]) -> None:
        self.queues = {int(q["id"]): q for q in queues}
        self._mark_queued()

    def set_queue(self, queue: Mapping[str, Any]) -> bool:
        """Take a queue's view from a ``queue:*`` event; True when a ticket's mark changed."""
        if self.project_id is not None and queue.get("project_id") != self.project_id:
            return False
        self.queues[int(queue["id"])] = queue
        return self._mark_queued()

    def drop_queue(self, queue_id: int) -> bool:
        if self.queues.pop(queue_id, None) is None:
            return False
        return self._mark_queued()

    def _mark_queued(self) -> bool:
        """Which queue each ticket waits in (a live queue's pending or running item)."""
        marks: dict[int, str] = {}
        for queue in self.queues.values():
            if queue.get("status") not in LIVE_QUEUES:
                continue
            for item in queue.get("items") or []:
                if item.get("status") in ("pending", "running"):
                    marks.setdefault(int(item["ticket_id"]), str(queue.get("name", "")))
        changed = marks != self.queued
        self.queued = marks
        return changed

    def set_pull_request(self, ticket_id: int, pr: dict[str, Any]) -> bool:
        """Record a ``pr:created``/``pr:updated`` from the stream; False for an unknown ticket."""
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            return False
        keys = ("number", "url", "state", "review_state", "checks")
        self._set(ticket_id, {**ticket, "pull_request": {k: pr.get(k) for k in keys}})
        return True

    def columns(self) -> list[tuple[str, str]]:
        return [*COLUMNS, CANCELLED] if self.show_cancelled else list(COLUMNS)

    def column_tickets(self, status: str) -> list[Ticket]:
        """The visible tickets of one column: urgent first, then by number."""
        order = {"urgent": 0, "high": 1, "medium": 2, "low": 3}
        found = [
            {**t, "queued": self.queued[t["id"]]} if t["id"] in self.queued else t
            for t in self.tickets.values()
            if t.get("status") == status and matches(t, self.needle)
        ]
        found.sort(key=lambda t: (order.get(str(t.get("priority")), 9), int(t.get("number", 0))))
        return found

    def first_match(self) -> Ticket | None:
        """The first visible ticket in board order (where focus lands after a filter)."""
        for status, _ in self.columns():
            found = self.column_tickets(status)
            if found:
                return found[0]
        return None

    def by_number(self, number: int) -> Ticket | None:
        return next((t for t in self.tickets.values() if t.get("number") == number), None)


def neighbour_status(status: str, step: int, show_cancelled: bool) -> str | None:
    """The status ``step`` columns away on the board (``<``/``>``); None past either end."""
    order = STATUSES if show_cancelled else STATUSES[:-1]
    if status not in order:
        return None
    index = order.index(status) + step
    return order[index] if 0 <= index < len(order) else None
