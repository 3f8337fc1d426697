"""The signed-in user's own profile, git identity and SSH key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .resource import Resource

if TYPE_CHECKING:
    from .models import SshKey, User


class MeApi(Resource):
    async def show(self) -> User:
        result: User = await self.t.get("/api/auth/me")
        return result

    async def set_name(self, name: str) -> User:
        result: User = await self.t.put("/api/me/profile", {"name": name})
        return result

    async def set_git_identity(self, name: str, email: str) -> User:
        body = {"name": name, "email": email}
        result: User = await self.t.put("/api/me/git-identity", body)
        return result

    async def ssh_key(self) -> SshKey:
        result: SshKey = await self.t.get("/api/me/ssh-key")
        return result

    async def generate_ssh_key(self) -> SshKey:
        result: SshKey = await self.t.post("/api/me/ssh-key")
        return result
