"""Comments on a ticket."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .resource import Resource, rows
from .tickets import ticket_path

if TYPE_CHECKING:
    from .models import Comment


class CommentsApi(Resource):
    async def list(self, slug: str, number: int) -> list[Comment]:
        return rows(await self.t.get(f"{ticket_path(slug, number)}/comments"))

    async def create(self, slug: str, number: int, body: str) -> Comment:
        path = f"{ticket_path(slug, number)}/comments"
        result: Comment = await self.t.post(path, {"body": body})
        return result
