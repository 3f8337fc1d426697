"""The signed-in user's own profile, git identity and SSH key."""

from __future__ import annotations

from typing import Any

from .resource import Resource


class MeApi(Resource):
    async def show(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.t.get("/api/auth/me")
        return result

    async def set_name(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.t.put("/api/me/profile", {"name": name})
        return result

    async def set_git_identity(self, name: str, email: str) -> dict[str, Any]:
        body = {"name": name, "email": email}
        result: dict[str, Any] = await self.t.put("/api/me/git-identity", body)
        return result

    async def ssh_key(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.t.get("/api/me/ssh-key")
        return result

    async def generate_ssh_key(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.t.post("/api/me/ssh-key")
        return result
