"""Read-only views of a project's history for the agent's ``memory`` tool.

Each function answers one topic with plain dicts the tool serialises for the model.
"""

from __future__ import annotations

from typing import Any

from .database import Connection, fetchall


async def status_counts(conn: Connection, project_id: int) -> dict[str, int]:
    rows = await fetchall(
        conn,
        "SELECT status, count(*) AS n FROM tickets WHERE project_id = ? GROUP BY status",
        (project_id,),
    )
    return {row["status"]: row["n"] for row in rows}


async def recent_tickets(conn: Connection, project_id: int, limit: int) -> list[dict[str, Any]]:
    rows = await fetchall(
        conn,
        "SELECT number, title, kind, priority, status, updated_at FROM tickets"
        " WHERE project_id = ? ORDER BY updated_at DESC, id DESC LIMIT ?",
        (project_id, limit),
    )
    return [dict(row) for row in rows]


async def recent_sessions(
    conn: Connection, project_id: int, limit: int, ticket_id: int | None = None
) -> list[dict[str, Any]]:
    """Past agent sessions with their outcome, newest first (optionally of one ticket)."""
    rows = await fetchall(
        conn,
        "SELECT t.number AS ticket, s.id, s.trigger, s.status, s.summary, s.error, s.cost_usd,"
        " s.started_at, s.ended_at FROM agent_sessions s"
        " JOIN tickets t ON s.owner_kind = 'ticket' AND t.id = s.owner_id"
        " WHERE t.project_id = ? AND (? IS NULL OR t.id = ?) ORDER BY s.id DESC LIMIT ?",
        (project_id, ticket_id, ticket_id, limit),
    )
    return [dict(row) for row in rows]


async def recent_reviews(
    conn: Connection, project_id: int, limit: int, ticket_id: int | None = None
) -> list[dict[str, Any]]:
    rows = await fetchall(
        conn,
        "SELECT t.number AS ticket, r.id, r.state, r.body, r.created_at,"
        " (SELECT group_concat(rc.path || ':' || rc.line || ' ' || rc.body, char(10))"
        "  FROM review_comments rc WHERE rc.review_id = r.id) AS comments"
        " FROM reviews r JOIN tickets t ON t.id = r.ticket_id"
        " WHERE t.project_id = ? AND (? IS NULL OR t.id = ?) ORDER BY r.id DESC LIMIT ?",
        (project_id, ticket_id, ticket_id, limit),
    )
    return [dict(row) for row in rows]
