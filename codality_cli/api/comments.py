"""Comments on a ticket."""

from __future__ import annotations

from typing import Any

from .resource import Resource, rows
from .tickets import ticket_path


class CommentsApi(Resource):
    async def list(self, slug: str, number: int) -> list[dict[str, Any]]:
        return rows(await self.t.get(f"{ticket_path(slug, number)}/comments"))

    async def create(self, slug: str, number: int, body: str) -> dict[str, Any]:
        path = f"{ticket_path(slug, number)}/comments"
        result: dict[str, Any] = await self.t.post(path, {"body": body})
        return result
