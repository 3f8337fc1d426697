"""Comments on tickets, with their authors; inserting one re-indexes the ticket for search (a
trigger in the initial migration does that)."""

from __future__ import annotations

from typing import Literal

from codality_server.domain.tickets import Comment
from codality_server.domain.users import Person

from .database import Connection, Row, fetchall, fetchone

_SELECT = (
    "SELECT c.id, c.ticket_id, c.author_kind, c.body, c.created_at,"
    " u.id AS user_id, u.name AS user_name, u.email AS user_email"
    " FROM comments c LEFT JOIN users u ON u.id = c.author_id"
)


def _comment(row: Row) -> Comment:
    author = (
        Person(id=row["user_id"], name=row["user_name"], email=row["user_email"])
        if row["user_id"] is not None
        else None
    )
    return Comment(
        id=row["id"],
        ticket_id=row["ticket_id"],
        author=author,
        author_kind=row["author_kind"],
        body=row["body"],
        created_at=row["created_at"],
    )


async def list_comments(conn: Connection, ticket_id: int) -> list[Comment]:
    """A ticket's comments, oldest first."""
    rows = await fetchall(conn, f"{_SELECT} WHERE c.ticket_id = ? ORDER BY c.id", (ticket_id,))
    return [_comment(row) for row in rows]


async def insert_comment(
    conn: Connection,
    ticket_id: int,
    author_id: int | None,
    author_kind: Literal["user", "agent"],
    body: str,
    now: str,
) -> Comment:
    cur = await conn.execute(
        "INSERT INTO comments(ticket_id, author_id, author_kind, body, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (ticket_id, author_id, author_kind, body, now),
    )
    row = await fetchone(conn, f"{_SELECT} WHERE c.id = ?", (cur.lastrowid,))
    assert row is not None
    return _comment(row)
