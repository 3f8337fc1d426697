"""Comments on tickets (product.md §4).

A user's comment on a ticket whose agent is running is also handed to the agent as a message:
the comment box is how people steer a run. The ticket agent reads comments for its prompt, so
comments do not call it: it subscribes to users' comments (``on_user_comment``) where the
services are composed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from codality_server.db import comments as db_comments
from codality_server.domain.events import CommentCreated, project_channel, ticket_channel
from codality_server.domain.tickets import clean_markdown
from codality_server.domain.users import User

from .base import Core, Service, now_iso

if TYPE_CHECKING:
    from .tickets import TicketService

# Called with the ticket's id and the comment's text after a user's comment is stored.
CommentHook = Callable[[int, str], Awaitable[None]]


class CommentService(Service):
    """Listing and posting comments; posting publishes ``comment:created``."""

    def __init__(self, core: Core, *, tickets: TicketService) -> None:
        super().__init__(core)
        self.tickets = tickets
        self._hooks: list[CommentHook] = []

    def on_user_comment(self, hook: CommentHook) -> None:
        """Call ``hook(ticket_id, text)`` after each user's comment, in subscription order."""
        self._hooks.append(hook)

    async def list(self, slug: str, number: int) -> list[dict[str, Any]]:
        """The ticket's comments, oldest first."""
        _, ticket = await self.tickets.get(slug, number)
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
        project, ticket = await self.tickets.get(slug, number)
        async with self.db.transaction() as conn:
            comment = await db_comments.insert_comment(
                conn, ticket.id, author.id if author else None, author_kind, text, now_iso()
            )
        view = comment.view()
        self.bus.publish(
            CommentCreated.of(view), (ticket_channel(ticket.id), project_channel(project.id))
        )
        if author_kind == "user":
            for hook in self._hooks:
                await hook(ticket.id, text)
        return view
