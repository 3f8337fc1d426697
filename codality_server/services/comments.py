"""Comments on tickets (product.md §4).

A user's comment on a ticket whose agent is running is also handed to the agent as a message:
the comment box is how people steer a run.
"""

from __future__ import annotations

from typing import Any, Literal

from codality_server.db import comments as db_comments
from codality_server.domain.events import CommentCreated, project_channel, ticket_channel
from codality_server.domain.tickets import clean_markdown
from codality_server.domain.users import User

from .base import Service, now_iso


class CommentService(Service):
    """Listing and posting comments; posting publishes ``comment:created``."""

    async def list(self, slug: str, number: int) -> list[dict[str, Any]]:
        """The ticket's comments, oldest first."""
        _, ticket = await self.services.tickets.get(slug, number)
        return [c.view() for c in await db_comments.list_comments(self.db.reader, ticket.id)]

    async def create(
        self,
        slug: str,
        number: int,
        body: str,
        author: User | None,
        author_kind: Literal["user", "agent"] = "user",
    ) -> dict[str, Any]:
        """Post a comment; ``author`` is None for the agent."""
        text = clean_markdown(body, "body", required=True)
        project, ticket = await self.services.tickets.get(slug, number)
        async with self.db.transaction() as conn:
            comment = await db_comments.insert_comment(
                conn, ticket.id, author.id if author else None, author_kind, text, now_iso()
            )
        view = comment.view()
        self.bus.publish(
            CommentCreated.of(view), (ticket_channel(ticket.id), project_channel(project.id))
        )
        if author_kind == "user":
            await self._tell_running_agent(ticket.id, text)
        return view

    async def _tell_running_agent(self, ticket_id: int, text: str) -> None:
        agent = self.services.agent
        if agent.is_running(ticket_id):
            await agent.deliver_message(ticket_id, text, mode="steer", source="comment")
