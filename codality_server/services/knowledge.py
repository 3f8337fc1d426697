"""The project knowledge behind ``get_ticket``, ``search_tickets`` and ``memory``, over services.

The agent's tools see only the ``ProjectKnowledge`` protocol (``agent/tools/base.py``); this adapter
answers it from the services, so ``agent/`` never imports a service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codality_server.db import memory as db_memory
from codality_server.domain.projects import Project

if TYPE_CHECKING:
    from codality_server.db.database import Database

    from .comments import CommentService
    from .tickets import TicketService


class ServiceKnowledge:
    """Read-only answers about one project, for the agent's tools."""

    def __init__(
        self, tickets: TicketService, comments: CommentService, db: Database, project: Project
    ) -> None:
        self.tickets = tickets
        self.comments = comments
        self.db = db
        self.project = project

    async def get_ticket(self, number: int) -> dict[str, Any]:
        _, ticket = await self.tickets.get(self.project.slug, number)
        comments = await self.comments.list(self.project.slug, number)
        return {**ticket.view(), "comments": comments}

    async def search_tickets(self, query: str, limit: int) -> list[dict[str, Any]]:
        hits = await self.tickets.search(self.project.slug, query, limit)
        return [
            {
                "number": hit.ticket.number,
                "title": hit.ticket.title,
                "status": hit.ticket.status.value,
                "kind": hit.ticket.kind.value,
                "snippet": hit.snippet,
            }
            for hit in hits
        ]

    async def memory(self, topic: str, number: int | None, limit: int) -> dict[str, Any]:
        conn = self.db.reader
        pid = self.project.id
        if topic == "ticket":
            assert number is not None
            ticket = await self.get_ticket(number)
            return {
                "ticket": ticket,
                "sessions": await db_memory.recent_sessions(conn, pid, limit, ticket["id"]),
                "reviews": await db_memory.recent_reviews(conn, pid, limit, ticket["id"]),
            }
        if topic == "recent_tickets":
            return {"tickets": await db_memory.recent_tickets(conn, pid, limit)}
        if topic == "sessions":
            return {"sessions": await db_memory.recent_sessions(conn, pid, limit)}
        if topic == "reviews":
            return {"reviews": await db_memory.recent_reviews(conn, pid, limit)}
        return {
            "project": self.project.view(),
            "tickets_by_status": await db_memory.status_counts(conn, pid),
            "recent_tickets": await db_memory.recent_tickets(conn, pid, min(limit, 5)),
            "recent_sessions": await db_memory.recent_sessions(conn, pid, min(limit, 5)),
        }
