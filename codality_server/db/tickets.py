"""Tickets: rows, per-project numbering, list filters and full-text search.

``assignee`` is stored as text (a user id or ``agent``) and converted back here, so the rest of the
code sees ``int | "agent" | None``. ``agent_status`` is not a column: it is the status of the
ticket's latest agent session, read with every ticket.
"""

from __future__ import annotations

import json
from typing import Any

from codality_server.domain.pushes import PushReport, PushState
from codality_server.domain.tickets import (
    AGENT,
    UNASSIGNED,
    Assignee,
    Kind,
    Priority,
    SearchHit,
    Ticket,
    TicketFilter,
    TicketSort,
    TicketStatus,
)

from .database import Connection, Params, Row, fetchall, fetchone

_COLUMNS = (
    "t.id, t.project_id, t.number, t.title, t.description, t.kind, t.priority, t.status,"
    " t.assignee, t.branch, t.worktree_path, t.created_by, t.created_at, t.updated_at,"
    " t.stacked_on, t.fork_sha,"
    # shown while the work below is unmerged (services.stacks.unmerged): once it is merged or
    # set aside the ticket stands on the default branch
    " (SELECT s.number FROM tickets s WHERE s.id = t.stacked_on AND s.branch IS NOT NULL"
    "  AND s.status NOT IN ('done', 'cancelled')) AS stacked_on_number,"
    " (SELECT u.name FROM users u WHERE u.id = CAST(t.assignee AS INTEGER)) AS assignee_name,"
    " (SELECT s.status FROM agent_sessions s"
    " WHERE s.owner_kind = 'ticket' AND s.owner_id = t.id"
    "  ORDER BY s.id DESC LIMIT 1) AS agent_status,"
    " (SELECT coalesce(sum(s.cost_usd), 0) FROM agent_sessions s"
    "  WHERE s.owner_kind = 'ticket' AND s.owner_id = t.id)"
    "  AS agent_cost_usd,"
    " (SELECT group_concat(d.number) FROM ticket_dependencies x"
    "  JOIN tickets d ON d.id = x.depends_on_id WHERE x.ticket_id = t.id) AS depends_on,"
    # The card's pull request summary: the same shape as ``PullRequest.summary()``.
    " (SELECT json_object('number', p.number, 'url', p.url, 'state', p.state,"
    "  'review_state', p.review_state, 'checks', json_object('passed', p.checks_passed,"
    "  'failed', p.checks_failed, 'pending', p.checks_pending))"
    "  FROM pull_requests p WHERE p.ticket_id = t.id) AS pull_request,"
    # How the ticket's local merge went to origin (``PushReport``); NULL before a merge.
    " (SELECT json_object('state', m.push_state, 'branch', m.push_branch,"
    "  'detail', m.push_detail, 'at', m.pushed_at,"
    "  'slug', (SELECT j.slug FROM projects j WHERE j.id = t.project_id))"
    "  FROM merge_diffs m WHERE m.ticket_id = t.id AND m.push_state IS NOT NULL) AS push"
)
_UPDATABLE = {
    "title",
    "description",
    "kind",
    "priority",
    "status",
    "assignee",
    "branch",
    "worktree_path",
    "stacked_on",
    "fork_sha",
}


def _assignee_from_db(raw: str | None) -> Assignee:
    if raw is None:
        return None
    return AGENT if raw == AGENT else int(raw)


def _assignee_to_db(value: Assignee) -> str | None:
    return None if value is None else str(value)


def _ticket(row: Row) -> Ticket:
    return Ticket(
        id=row["id"],
        project_id=row["project_id"],
        number=row["number"],
        title=row["title"],
        description=row["description"],
        kind=Kind(row["kind"]),
        priority=Priority(row["priority"]),
        status=TicketStatus(row["status"]),
        assignee=_assignee_from_db(row["assignee"]),
        branch=row["branch"],
        worktree_path=row["worktree_path"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        agent_status=row["agent_status"],
        agent_cost_usd=float(row["agent_cost_usd"]),
        depends_on=_numbers(row["depends_on"]),
        pull_request=json.loads(row["pull_request"]) if row["pull_request"] else None,
        assignee_name=row["assignee_name"],
        push=_push(row["number"], row["push"]),
        stacked_on=row["stacked_on"],
        stacked_on_number=row["stacked_on_number"],
        fork_sha=row["fork_sha"],
    )


def _push(number: int, raw: str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    data = json.loads(raw)
    report = PushReport(PushState(data["state"]), data["branch"], data["detail"], data["at"])
    return report.view(data["slug"], number)


def _numbers(joined: str | int | None) -> tuple[int, ...]:
    """``group_concat`` of ticket numbers (a bare int when there is one) → sorted numbers."""
    if joined is None:
        return ()
    return tuple(sorted(int(part) for part in str(joined).split(",")))


async def get_ticket(conn: Connection, ticket_id: int) -> Ticket | None:
    row = await fetchone(conn, f"SELECT {_COLUMNS} FROM tickets t WHERE t.id = ?", (ticket_id,))
    return _ticket(row) if row else None


async def ticket_by_number(conn: Connection, project_id: int, number: int) -> Ticket | None:
    row = await fetchone(
        conn,
        f"SELECT {_COLUMNS} FROM tickets t WHERE t.project_id = ? AND t.number = ?",
        (project_id, number),
    )
    return _ticket(row) if row else None


async def tickets_where(conn: Connection, condition: str, params: Params = ()) -> list[Ticket]:
    """Tickets (alias ``t``) matching an SQL condition, by number; for sibling db modules."""
    rows = await fetchall(
        conn, f"SELECT {_COLUMNS} FROM tickets t WHERE {condition} ORDER BY t.number", params
    )
    return [_ticket(row) for row in rows]


def _rank(column: str, values: tuple[str, ...]) -> str:
    """A CASE ranking ``column`` by the order of ``values`` (enum members, never user text)."""
    cases = " ".join(f"WHEN '{value}' THEN {i}" for i, value in enumerate(values))
    return f"CASE {column} {cases} ELSE {len(values)} END"


_SORT_KEYS = {
    TicketSort.NUMBER: "t.number",
    TicketSort.CREATED: "t.created_at",
    TicketSort.UPDATED: "t.updated_at",
    TicketSort.PRIORITY: _rank("t.priority", tuple(p.value for p in Priority)),
    TicketSort.STATUS: _rank("t.status", tuple(s.value for s in TicketStatus)),
}


def _order(where: TicketFilter) -> str:
    """The ORDER BY of a list: its sort key, then the ticket number."""
    direction = "DESC" if where.descending else "ASC"
    key = _SORT_KEYS[where.sort]
    return (
        f"{key} {direction}" if where.sort is TicketSort.NUMBER else f"{key} {direction}, t.number"
    )


async def list_tickets(conn: Connection, project_id: int, where: TicketFilter) -> list[Ticket]:
    """One page of a project's tickets, in the filter's order (by number unless told)."""
    clauses = ["t.project_id = ?"]
    params: list[Any] = [project_id]
    if where.statuses:
        clauses.append(f"t.status IN ({', '.join('?' for _ in where.statuses)})")
        params.extend(status.value for status in where.statuses)
    if where.kind is not None:
        clauses.append("t.kind = ?")
        params.append(where.kind.value)
    if where.priority is not None:
        clauses.append("t.priority = ?")
        params.append(where.priority.value)
    if where.search is not None:
        clauses.append("t.id IN (SELECT rowid FROM ticket_search WHERE ticket_search MATCH ?)")
        params.append(where.search)
    if where.assignee == UNASSIGNED:
        clauses.append("t.assignee IS NULL")
    elif where.assignee is not None:
        clauses.append("t.assignee = ?")
        params.append(str(where.assignee))
    rows = await fetchall(
        conn,
        f"SELECT {_COLUMNS} FROM tickets t WHERE {' AND '.join(clauses)}"
        f" ORDER BY {_order(where)} LIMIT ? OFFSET ?",
        (*params, where.limit, where.offset),
    )
    return [_ticket(row) for row in rows]


async def insert_ticket(
    conn: Connection,
    project_id: int,
    *,
    title: str,
    description: str,
    kind: Kind,
    priority: Priority,
    status: TicketStatus,
    assignee: Assignee,
    created_by: int | None,
    now: str,
) -> Ticket:
    """Insert with the project's next number; call inside ``db.transaction()`` (the one writer),
    which is what makes ``max(number) + 1`` safe under concurrent creation."""
    row = await fetchone(
        conn,
        "INSERT INTO tickets(project_id, number, title, description, kind, priority, status,"
        " assignee, created_by, created_at, updated_at)"
        " VALUES (?, (SELECT coalesce(max(number), 0) + 1 FROM tickets WHERE project_id = ?),"
        " ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            project_id,
            project_id,
            title,
            description,
            kind.value,
            priority.value,
            status.value,
            _assignee_to_db(assignee),
            created_by,
            now,
            now,
        ),
    )
    assert row is not None
    ticket = await get_ticket(conn, row["id"])
    assert ticket is not None
    return ticket


async def update_ticket(conn: Connection, ticket_id: int, now: str, **fields: Any) -> Ticket | None:
    """Set the given columns (enums and assignees in their domain form) and ``updated_at``."""
    assert set(fields) <= _UPDATABLE, f"unexpected fields {set(fields) - _UPDATABLE}"
    values = [
        _assignee_to_db(value) if name == "assignee" else value for name, value in fields.items()
    ]
    assignments = "".join(f"{name} = ?, " for name in fields)
    cur = await conn.execute(
        f"UPDATE tickets SET {assignments}updated_at = ? WHERE id = ?", (*values, now, ticket_id)
    )
    if cur.rowcount == 0:
        return None
    return await get_ticket(conn, ticket_id)


# Parameters: (MATCH expression, project id, limit); public so bench/fts_search.py runs it too.
SEARCH_SQL = (
    f"SELECT {_COLUMNS}, snippet(ticket_search, -1, '[', ']', '…', 12) AS snippet,"
    " ticket_search.rank AS rank"
    " FROM ticket_search JOIN tickets t ON t.id = ticket_search.rowid"
    " WHERE ticket_search MATCH ? AND t.project_id = ?"
    " ORDER BY ticket_search.rank LIMIT ?"
)


async def search_tickets(
    conn: Connection, project_id: int, expression: str, limit: int
) -> list[SearchHit]:
    """Tickets of a project matching an FTS5 expression, best first (the configured bm25 rank
    weighs title over description over comments), each with a ``[marked]`` snippet."""
    rows = await fetchall(conn, SEARCH_SQL, (expression, project_id, limit))
    return [SearchHit(_ticket(row), row["snippet"], row["rank"]) for row in rows]
