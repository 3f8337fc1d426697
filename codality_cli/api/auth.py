"""Health, first-time setup, OTP login and the signed-in user."""

from __future__ import annotations

from typing import Any

from .resource import Resource


class AuthApi(Resource):
    async def health(self, timeout: float | None = None) -> dict[str, Any]:
        result: dict[str, Any] = await self.t.request("GET", "/healthz", timeout=timeout)
        return result

    async def setup_status(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.t.get("/api/setup/status")
        return result

    async def setup_verify(self, code: str, email: str, name: str | None = None) -> dict[str, Any]:
        """Create the first admin; answers ``{"user", "token"}``."""
        body = {"code": code, "email": email, "name": name}
        result: dict[str, Any] = await self.t.post("/api/setup/verify", body)
        return result

    async def request_otp(self, email: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.t.post("/api/auth/request-otp", {"email": email})
        return result

    async def verify_otp(self, email: str, code: str) -> dict[str, Any]:
        """Exchange a code for a session; answers ``{"user", "token"}``."""
        body = {"email": email, "code": code}
        result: dict[str, Any] = await self.t.post("/api/auth/verify-otp", body)
        return result

    async def logout(self) -> None:
        await self.t.post("/api/auth/logout")

    async def me(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.t.get("/api/auth/me")
        return result
