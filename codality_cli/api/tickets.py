"""Tickets of one project."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from .resource import Resource, rows, segment

if TYPE_CHECKING:
    from .models import SearchHit, Ticket


def ticket_path(slug: str, number: int) -> str:
    return f"/api/projects/{segment(slug)}/tickets/{int(number)}"


class TicketsApi(Resource):
    async def list(
        self,
        slug: str,
        status: list[str] | None = None,
        kind: str | None = None,
        priority: str | None = None,
        assignee: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        sort: str | None = None,
        order: str | None = None,
        query: str | None = None,
    ) -> list[Ticket]:
        """``sort``: number, created, updated, priority or status; ``query``: words to find."""
        params = {
            "sort": sort,
            "order": order,
            "q": query,
            "status": status or None,
            "kind": kind,
            "priority": priority,
            "assignee": assignee,
            "limit": limit,
            "offset": offset,
        }
        return rows(await self.t.get(f"/api/projects/{segment(slug)}/tickets", params))

    async def create(self, slug: str, fields: dict[str, Any]) -> Ticket:
        result: Ticket = await self.t.post(f"/api/projects/{segment(slug)}/tickets", fields)
        return result

    async def get(self, slug: str, number: int) -> Ticket:
        result: Ticket = await self.t.get(ticket_path(slug, number))
        return result

    async def update(self, slug: str, number: int, fields: dict[str, Any]) -> Ticket:
        result: Ticket = await self.t.put(ticket_path(slug, number), fields)
        return result

    async def set_status(self, slug: str, number: int, status: str) -> Ticket:
        path = f"{ticket_path(slug, number)}/status"
        result: Ticket = await self.t.patch(path, {"status": status})
        return result

    async def assign(self, slug: str, number: int, assignee: str | int | None) -> Ticket:
        """``assignee``: a user id, ``"agent"``, or None to unassign."""
        path = f"{ticket_path(slug, number)}/assign"
        result: Ticket = await self.t.patch(path, {"assignee": assignee})
        return result

    async def search(
        self, slug: str, query: str, limit: int | None = None
    ) -> builtins.list[SearchHit]:
        path = f"/api/projects/{segment(slug)}/tickets/search"
        return rows(await self.t.get(path, {"q": query, "limit": limit}))
