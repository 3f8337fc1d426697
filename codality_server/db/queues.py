"""Work queues and their items.

Items are read with their ticket's number, title and status (joined), so a queue's view never
needs a second query per ticket.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from codality_server.domain.queues import (
    Dependency,
    ItemStatus,
    QueueItem,
    QueueStatus,
    WorkQueue,
)

from .database import Connection, Row, fetchall, fetchone

_QUEUE_COLUMNS = (
    "id, project_id, name, description, status, merge_each, max_parallel, reason, created_by,"
    " started_by, created_at, updated_at, started_at, ended_at"
)
_ITEM_COLUMNS = (
    "i.id, i.queue_id, i.ticket_id, t.number AS ticket_number, t.title AS ticket_title,"
    " t.status AS ticket_status, i.position, i.status, i.session_id, i.error, i.started_at,"
    " i.ended_at"
)
_QUEUE_UPDATABLE = {
    "name",
    "description",
    "status",
    "merge_each",
    "max_parallel",
    "reason",
    "started_by",
    "started_at",
    "ended_at",
}
_ITEM_UPDATABLE = {"status", "session_id", "error", "started_at", "ended_at"}


def _queue(row: Row, items: Sequence[QueueItem] = ()) -> WorkQueue:
    return WorkQueue(
        id=row["id"],
        project_id=row["project_id"],
        name=row["name"],
        description=row["description"],
        status=QueueStatus(row["status"]),
        merge_each=bool(row["merge_each"]),
        max_parallel=row["max_parallel"],
        reason=row["reason"],
        created_by=row["created_by"],
        started_by=row["started_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        items=tuple(items),
    )


def _item(row: Row) -> QueueItem:
    return QueueItem(
        id=row["id"],
        queue_id=row["queue_id"],
        ticket_id=row["ticket_id"],
        ticket_number=row["ticket_number"],
        ticket_title=row["ticket_title"],
        ticket_status=row["ticket_status"],
        position=row["position"],
        status=ItemStatus(row["status"]),
        session_id=row["session_id"],
        error=row["error"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
    )


async def _items_of(conn: Connection, queue_ids: Sequence[int]) -> dict[int, list[QueueItem]]:
    found: dict[int, list[QueueItem]] = {queue_id: [] for queue_id in queue_ids}
    if not queue_ids:
        return found
    marks = ", ".join("?" for _ in queue_ids)
    rows = await fetchall(
        conn,
        f"SELECT {_ITEM_COLUMNS} FROM work_queue_items i JOIN tickets t ON t.id = i.ticket_id"
        f" WHERE i.queue_id IN ({marks}) ORDER BY i.queue_id, i.position, i.id",
        tuple(queue_ids),
    )
    for row in rows:
        found[row["queue_id"]].append(_item(row))
    return found


async def get_queue(conn: Connection, queue_id: int) -> WorkQueue | None:
    row = await fetchone(
        conn, f"SELECT {_QUEUE_COLUMNS} FROM work_queues WHERE id = ?", (queue_id,)
    )
    if row is None:
        return None
    return _queue(row, (await _items_of(conn, [queue_id]))[queue_id])


async def list_queues(conn: Connection, project_id: int) -> list[WorkQueue]:
    """A project's queues, oldest first, each with its items."""
    rows = await fetchall(
        conn,
        f"SELECT {_QUEUE_COLUMNS} FROM work_queues WHERE project_id = ? ORDER BY id",
        (project_id,),
    )
    items = await _items_of(conn, [row["id"] for row in rows])
    return [_queue(row, items[row["id"]]) for row in rows]


async def queues_with_status(conn: Connection, status: QueueStatus) -> list[WorkQueue]:
    """Every queue in ``status``, across projects (start-up recovery)."""
    rows = await fetchall(
        conn,
        f"SELECT {_QUEUE_COLUMNS} FROM work_queues WHERE status = ? ORDER BY id",
        (status.value,),
    )
    items = await _items_of(conn, [row["id"] for row in rows])
    return [_queue(row, items[row["id"]]) for row in rows]


async def insert_queue(
    conn: Connection,
    project_id: int,
    *,
    name: str,
    description: str,
    merge_each: bool,
    max_parallel: int,
    created_by: int | None,
    now: str,
) -> int:
    row = await fetchone(
        conn,
        "INSERT INTO work_queues(project_id, name, description, merge_each, max_parallel,"
        " created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (project_id, name, description, int(merge_each), max_parallel, created_by, now, now),
    )
    assert row is not None
    return int(row["id"])


async def update_queue(conn: Connection, queue_id: int, now: str, **fields: Any) -> None:
    """Set the given columns (enums in their domain form) and ``updated_at``."""
    assert set(fields) <= _QUEUE_UPDATABLE, f"unexpected fields {set(fields) - _QUEUE_UPDATABLE}"
    values = [_plain(value) for value in fields.values()]
    assignments = "".join(f"{name} = ?, " for name in fields)
    await conn.execute(
        f"UPDATE work_queues SET {assignments}updated_at = ? WHERE id = ?",
        (*values, now, queue_id),
    )


async def update_item(conn: Connection, item_id: int, **fields: Any) -> None:
    assert set(fields) <= _ITEM_UPDATABLE, f"unexpected fields {set(fields) - _ITEM_UPDATABLE}"
    values = [_plain(value) for value in fields.values()]
    assignments = ", ".join(f"{name} = ?" for name in fields)
    await conn.execute(
        f"UPDATE work_queue_items SET {assignments} WHERE id = ?", (*values, item_id)
    )


def _plain(value: Any) -> Any:
    if isinstance(value, QueueStatus | ItemStatus):
        return value.value
    if isinstance(value, bool):
        return int(value)
    return value


async def set_items(conn: Connection, queue_id: int, ticket_ids: Sequence[int]) -> None:
    """Make the queue's items exactly ``ticket_ids``, in that order: dropped items are deleted,
    kept ones keep their state, new ones start pending."""
    marks = ", ".join("?" for _ in ticket_ids)
    await conn.execute(
        f"DELETE FROM work_queue_items WHERE queue_id = ? AND ticket_id NOT IN ({marks})",
        (queue_id, *ticket_ids),
    )
    for position, ticket_id in enumerate(ticket_ids, start=1):
        await conn.execute(
            "INSERT INTO work_queue_items(queue_id, ticket_id, position) VALUES (?, ?, ?)"
            " ON CONFLICT (queue_id, ticket_id) DO UPDATE SET position = excluded.position",
            (queue_id, ticket_id, position),
        )


async def reset_unsettled_items(conn: Connection, queue_id: int) -> None:
    """``release``: every item not done is pending again, its last run forgotten."""
    await conn.execute(
        "UPDATE work_queue_items SET status = 'pending', session_id = NULL, error = NULL,"
        " started_at = NULL, ended_at = NULL WHERE queue_id = ? AND status != 'done'",
        (queue_id,),
    )


async def delete_queue(conn: Connection, queue_id: int) -> None:
    await conn.execute("DELETE FROM work_queues WHERE id = ?", (queue_id,))


async def holders(
    conn: Connection, ticket_ids: Sequence[int], other_than: int | None
) -> list[tuple[int, str, str]]:
    """(ticket number, queue name, queue status) for each of ``ticket_ids`` that a running or
    paused queue other than ``other_than`` still has to work on."""
    if not ticket_ids:
        return []
    marks = ", ".join("?" for _ in ticket_ids)
    rows = await fetchall(
        conn,
        "SELECT t.number, q.name, q.status FROM work_queue_items i"
        " JOIN work_queues q ON q.id = i.queue_id JOIN tickets t ON t.id = i.ticket_id"
        f" WHERE i.ticket_id IN ({marks}) AND q.status IN ('running', 'paused')"
        " AND i.status NOT IN ('done', 'skipped') AND q.id != ?"
        " ORDER BY i.position",
        (*ticket_ids, other_than or 0),
    )
    return [(row["number"], row["name"], row["status"]) for row in rows]


async def queue_of_session(conn: Connection, session_id: int, ticket_id: int) -> int | None:
    """The queue whose item ran the session, or whose item of that ticket is starting its agent
    (the session may end before the item records it), if any."""
    row = await fetchone(
        conn,
        "SELECT queue_id FROM work_queue_items WHERE session_id = ?"
        " OR (ticket_id = ? AND status = 'running' AND session_id IS NULL) LIMIT 1",
        (session_id, ticket_id),
    )
    return int(row["queue_id"]) if row else None


async def pending_dependencies(conn: Connection, queue_id: int) -> list[Dependency]:
    """What the queue's pending tickets depend on, and whether each of those is done."""
    rows = await fetchall(
        conn,
        "SELECT x.ticket_id, x.depends_on_id, d.number, d.status FROM ticket_dependencies x"
        " JOIN work_queue_items i ON i.ticket_id = x.ticket_id"
        " JOIN tickets d ON d.id = x.depends_on_id"
        " WHERE i.queue_id = ? AND i.status = 'pending' ORDER BY i.position, d.number",
        (queue_id,),
    )
    return [
        Dependency(row["ticket_id"], row["depends_on_id"], row["number"], row["status"] == "done")
        for row in rows
    ]
