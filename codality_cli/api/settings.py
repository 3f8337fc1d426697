"""Server settings, environment values and restart (admin only)."""

from __future__ import annotations

from typing import Any

from .resource import Resource


class SettingsApi(Resource):
    async def get_all(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.t.get("/api/settings")
        return result

    async def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.t.put("/api/settings", changes)
        return result

    async def defaults(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.t.get("/api/settings/defaults")
        return result

    async def env(self) -> list[dict[str, Any]]:
        """``[{name, set, secret, value}]``, secret values masked by the server."""
        result: list[dict[str, Any]] = await self.t.get("/api/settings/env")
        return result

    async def set_env(self, changes: dict[str, str | None]) -> list[dict[str, Any]]:
        """``{NAME: value}``; None unsets. Answers the new (masked) listing."""
        result: list[dict[str, Any]] = await self.t.put("/api/settings/env", changes)
        return result

    async def restart(self) -> Any:
        return await self.t.post("/api/settings/restart")
