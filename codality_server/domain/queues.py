"""Work queues (product.md §8): an ordered list of tickets the agent works through, unattended.

The rules that do not need I/O live here: which transitions a queue allows, what a list of
tickets may contain, how an edit may change the items, and which pending item may start next
(order, ``max_parallel`` and ticket dependencies). The service applies them; the runner follows
them when a session ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from .errors import Conflict, InvalidInput
from .shapes import Shape

NAME_MAX_CHARS = 200
DESCRIPTION_MAX_CHARS = 10_000
MAX_ITEMS = 200
MAX_PARALLEL = 16


class QueueStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ItemStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


# A queue in one of these holds its tickets: no other queue may take them meanwhile.
ACTIVE = frozenset({QueueStatus.RUNNING, QueueStatus.PAUSED})
# ``release`` puts these back to pending.
RELEASABLE = frozenset({QueueStatus.PAUSED, QueueStatus.CANCELLED, QueueStatus.COMPLETED})
# An item in one of these is settled: its ticket needs nothing more from this queue.
SETTLED = frozenset({ItemStatus.DONE, ItemStatus.SKIPPED})


class QueueItemView(Shape):
    id: int
    ticket: int
    ticket_id: int
    title: str
    ticket_status: str
    position: int
    status: ItemStatus
    session: int | None
    error: str | None
    started_at: str | None
    ended_at: str | None


class QueueProgress(Shape):
    total: int
    pending: int
    running: int
    done: int
    failed: int
    skipped: int


class QueueView(Shape):
    id: int
    project_id: int
    name: str
    description: str
    status: QueueStatus
    merge_each: bool
    max_parallel: int
    reason: str | None
    created_by: int | None
    created_at: str
    updated_at: str
    started_at: str | None
    ended_at: str | None
    items: list[QueueItemView]
    progress: QueueProgress


@dataclass(frozen=True)
class QueueItem:
    """One ticket of a queue, where it stands, and the agent session that worked on it."""

    id: int
    queue_id: int
    ticket_id: int
    ticket_number: int
    ticket_title: str
    ticket_status: str
    position: int
    status: ItemStatus
    session_id: int | None
    error: str | None
    started_at: str | None
    ended_at: str | None

    def shape(self) -> QueueItemView:
        return QueueItemView(
            id=self.id,
            ticket=self.ticket_number,
            ticket_id=self.ticket_id,
            title=self.ticket_title,
            ticket_status=self.ticket_status,
            position=self.position,
            status=self.status,
            session=self.session_id,
            error=self.error,
            started_at=self.started_at,
            ended_at=self.ended_at,
        )

    def view(self) -> dict[str, Any]:
        return self.shape().model_dump(mode="json")


@dataclass(frozen=True)
class WorkQueue:
    """A queue and its items, in order."""

    id: int
    project_id: int
    name: str
    description: str
    status: QueueStatus
    merge_each: bool
    max_parallel: int
    reason: str | None
    created_by: int | None
    started_by: int | None
    created_at: str
    updated_at: str
    started_at: str | None
    ended_at: str | None
    items: tuple[QueueItem, ...] = ()

    def view(self) -> dict[str, Any]:
        counts = {status.value: 0 for status in ItemStatus}
        for item in self.items:
            counts[item.status.value] += 1
        return QueueView(
            id=self.id,
            project_id=self.project_id,
            name=self.name,
            description=self.description,
            status=self.status,
            merge_each=self.merge_each,
            max_parallel=self.max_parallel,
            reason=self.reason,
            created_by=self.created_by,
            created_at=self.created_at,
            updated_at=self.updated_at,
            started_at=self.started_at,
            ended_at=self.ended_at,
            items=[item.shape() for item in self.items],
            progress=QueueProgress(total=len(self.items), **counts),
        ).model_dump(mode="json")

    def with_items(self, items: Iterable[QueueItem]) -> WorkQueue:
        return replace(self, items=tuple(items))

    def item_for(self, ticket_id: int) -> QueueItem | None:
        return next((item for item in self.items if item.ticket_id == ticket_id), None)

    def running_items(self) -> list[QueueItem]:
        return [item for item in self.items if item.status is ItemStatus.RUNNING]

    def pending_items(self) -> list[QueueItem]:
        return [item for item in self.items if item.status is ItemStatus.PENDING]

    @property
    def finished(self) -> bool:
        """Every item is settled (done or skipped)."""
        return all(item.status in SETTLED for item in self.items)


# --- field rules ------------------------------------------------------------------------------


def clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise InvalidInput("name: must not be empty", field="name")
    if len(name) > NAME_MAX_CHARS:
        raise InvalidInput(f"name: at most {NAME_MAX_CHARS} characters", field="name")
    return name


def clean_description(text: str) -> str:
    if len(text) > DESCRIPTION_MAX_CHARS:
        raise InvalidInput(
            f"description: at most {DESCRIPTION_MAX_CHARS} characters", field="description"
        )
    return text


def check_max_parallel(value: int) -> int:
    if isinstance(value, bool) or not 1 <= value <= MAX_PARALLEL:
        raise InvalidInput(f"max_parallel: must be 1..{MAX_PARALLEL}", field="max_parallel")
    return value


def check_ticket_numbers(numbers: Sequence[int]) -> list[int]:
    """A queue's tickets: at least one, at most ``MAX_ITEMS``, each once."""
    if not numbers:
        raise InvalidInput("tickets: give at least one ticket number", field="tickets")
    if len(numbers) > MAX_ITEMS:
        raise InvalidInput(f"tickets: at most {MAX_ITEMS} tickets per queue", field="tickets")
    seen: set[int] = set()
    for number in numbers:
        if number in seen:
            raise InvalidInput(f"tickets: #{number} is listed twice", field="tickets")
        seen.add(number)
    return list(numbers)


# --- transitions ------------------------------------------------------------------------------


def check_can_start(queue: WorkQueue) -> None:
    if queue.status is QueueStatus.RUNNING:
        raise Conflict(f"queue {queue.name!r} is already running")
    if queue.status is not QueueStatus.PENDING:
        raise Conflict(
            f"queue {queue.name!r} is {queue.status.value}; release it before starting it again"
        )
    if not queue.pending_items():
        raise Conflict(f"queue {queue.name!r} has no pending tickets")


def check_can_cancel(queue: WorkQueue) -> None:
    if queue.status not in ACTIVE:
        raise Conflict(
            f"queue {queue.name!r} is {queue.status.value}; only a running or paused queue can"
            " be cancelled"
        )


def check_can_release(queue: WorkQueue) -> None:
    if queue.status not in RELEASABLE:
        raise Conflict(
            f"queue {queue.name!r} is {queue.status.value}; only a paused, cancelled or completed"
            " queue can be released"
        )


def check_can_delete(queue: WorkQueue) -> None:
    if queue.status is QueueStatus.RUNNING or queue.running_items():
        raise Conflict(f"queue {queue.name!r} is running; cancel it before deleting it")


def released_items(items: Iterable[QueueItem]) -> list[QueueItem]:
    """``release``: every item that is not done goes back to pending, its last run forgotten."""
    return [
        item
        if item.status is ItemStatus.DONE
        else replace(
            item,
            status=ItemStatus.PENDING,
            session_id=None,
            error=None,
            started_at=None,
            ended_at=None,
        )
        for item in items
    ]


def check_edit(queue: WorkQueue, wanted: Sequence[int], numbers: Mapping[int, int]) -> None:
    """An edit's ticket list may reorder, add or drop pending items; others must stay listed.

    ``numbers`` maps ticket ids to numbers for the items the queue has now.
    """
    listed = set(wanted)
    for item in queue.items:
        if item.status is not ItemStatus.PENDING and numbers[item.ticket_id] not in listed:
            raise Conflict(
                f"ticket #{item.ticket_number} is {item.status.value} in this queue; only"
                " pending tickets can be removed"
            )


# --- scheduling -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Blocked:
    """Why a pending item may not start yet: the ticket it waits for, and whether waiting helps."""

    item: QueueItem
    depends_on: int  # ticket number
    waits: bool  # True: the dependency is in this queue and may still finish

    @property
    def reason(self) -> str:
        if self.waits:
            return (
                f"ticket #{self.item.ticket_number} waits for #{self.depends_on}, which is not"
                " done yet"
            )
        return (
            f"ticket #{self.item.ticket_number} depends on #{self.depends_on}, which is not done"
            " and is not in this queue"
        )


@dataclass(frozen=True)
class Dependency:
    """An edge of the ticket graph: ``ticket_id`` needs ``depends_on_id`` done first."""

    ticket_id: int
    depends_on_id: int
    depends_on_number: int
    depends_on_done: bool  # the ticket is ``done`` (merged) already


def next_items(
    queue: WorkQueue, dependencies: Sequence[Dependency], slots: int
) -> tuple[list[QueueItem], list[Blocked]]:
    """The pending items to start now, in queue order, and the pending ones held back.

    At most ``slots`` items start (``max_parallel`` minus what runs, capped by the caller). An
    item starts only when every ticket it depends on is done: merged already, or settled in this
    queue. With one slot the queue runs strictly one at a time; a blocked item does not stop a
    later independent one, so the order is kept where dependencies allow it.
    """
    settled = {item.ticket_id for item in queue.items if item.status in SETTLED}
    in_queue = {item.ticket_id for item in queue.items}
    needs: dict[int, list[Dependency]] = {}
    for edge in dependencies:
        needs.setdefault(edge.ticket_id, []).append(edge)
    chosen: list[QueueItem] = []
    blocked: list[Blocked] = []
    for item in queue.pending_items():
        waiting = [
            edge
            for edge in needs.get(item.ticket_id, [])
            if not edge.depends_on_done and edge.depends_on_id not in settled
        ]
        if waiting:
            edge = waiting[0]
            blocked.append(Blocked(item, edge.depends_on_number, edge.depends_on_id in in_queue))
            continue
        if len(chosen) < slots:
            chosen.append(item)
    return chosen, blocked
