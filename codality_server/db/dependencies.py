"""Dependencies between tickets: "ticket A waits for ticket B".

Plan approval records them between the tickets it creates; work queues read them to hold back a
ticket whose dependencies are not met yet. A dependency is met when the ticket depended on is
``done``. Rows disappear with either ticket (``ON DELETE CASCADE``). Callers keep both tickets in
one project and the graph acyclic (plan drafts may only depend on earlier drafts).
"""

from __future__ import annotations

from collections.abc import Iterable

from codality_server.domain.tickets import Ticket, TicketStatus

from .database import Connection
from .tickets import tickets_where


async def add_dependencies(conn: Connection, ticket_id: int, depends_on_ids: Iterable[int]) -> None:
    """Record that ``ticket_id`` waits for each of ``depends_on_ids`` (repeats are ignored)."""
    await conn.executemany(
        "INSERT INTO ticket_dependencies(ticket_id, depends_on_id) VALUES (?, ?)"
        " ON CONFLICT DO NOTHING",
        [(ticket_id, other) for other in depends_on_ids],
    )


async def dependencies_of(conn: Connection, ticket_id: int) -> list[Ticket]:
    """The tickets ``ticket_id`` waits for, by number."""
    return await tickets_where(
        conn,
        "t.id IN (SELECT depends_on_id FROM ticket_dependencies WHERE ticket_id = ?)",
        (ticket_id,),
    )


async def unmet_dependencies(conn: Connection, ticket_id: int) -> list[Ticket]:
    """The tickets ``ticket_id`` still waits for: its dependencies not ``done``, by number."""
    return await tickets_where(
        conn,
        "t.id IN (SELECT depends_on_id FROM ticket_dependencies WHERE ticket_id = ?)"
        " AND t.status <> ?",
        (ticket_id, TicketStatus.DONE.value),
    )
