"""User management (admin only), and the people list everyone may read."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from .resource import Resource, rows

if TYPE_CHECKING:
    from .models import Person, User


class UsersApi(Resource):
    async def list(self) -> list[User]:
        return rows(await self.t.get("/api/users"))

    async def people(self) -> builtins.list[Person]:
        """Everyone's id, name and e-mail (any signed-in user may read them)."""
        return rows(await self.t.get("/api/people"))

    async def invite(self, email: str, name: str | None, role: str) -> User:
        body = {"email": email, "name": name, "role": role}
        result: User = await self.t.post("/api/users", body)
        return result

    async def set_role(self, user_id: int, role: str) -> User:
        result: User = await self.t.patch(f"/api/users/{int(user_id)}/role", {"role": role})
        return result

    async def remove(self, user_id: int) -> None:
        await self.t.delete(f"/api/users/{int(user_id)}")
