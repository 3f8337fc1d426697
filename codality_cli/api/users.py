"""User management (admin only), and the people list everyone may read."""

from __future__ import annotations

import builtins
from typing import Any

from .resource import Resource, rows


class UsersApi(Resource):
    async def list(self) -> list[dict[str, Any]]:
        return rows(await self.t.get("/api/users"))

    async def people(self) -> builtins.list[dict[str, Any]]:
        """Everyone's id, name and e-mail (any signed-in user may read them)."""
        return rows(await self.t.get("/api/people"))

    async def invite(self, email: str, name: str | None, role: str) -> dict[str, Any]:
        body = {"email": email, "name": name, "role": role}
        result: dict[str, Any] = await self.t.post("/api/users", body)
        return result

    async def set_role(self, user_id: int, role: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.t.patch(
            f"/api/users/{int(user_id)}/role", {"role": role}
        )
        return result

    async def remove(self, user_id: int) -> None:
        await self.t.delete(f"/api/users/{int(user_id)}")
