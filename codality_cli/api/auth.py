"""Health, first-time setup, OTP login and the signed-in user."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .resource import Resource

if TYPE_CHECKING:
    from .models import Health, Ok, SetupStatus, SignedIn, User


class AuthApi(Resource):
    async def health(self, timeout: float | None = None) -> Health:
        result: Health = await self.t.request("GET", "/healthz", timeout=timeout)
        return result

    async def setup_status(self) -> SetupStatus:
        result: SetupStatus = await self.t.get("/api/setup/status")
        return result

    async def setup_verify(self, code: str, email: str, name: str | None = None) -> SignedIn:
        """Create the first admin; answers ``{"user", "token"}``."""
        body = {"code": code, "email": email, "name": name}
        result: SignedIn = await self.t.post("/api/setup/verify", body)
        return result

    async def request_otp(self, email: str) -> Ok:
        result: Ok = await self.t.post("/api/auth/request-otp", {"email": email})
        return result

    async def verify_otp(self, email: str, code: str) -> SignedIn:
        """Exchange a code for a session; answers ``{"user", "token"}``."""
        body = {"email": email, "code": code}
        result: SignedIn = await self.t.post("/api/auth/verify-otp", body)
        return result

    async def logout(self) -> None:
        await self.t.post("/api/auth/logout")

    async def me(self) -> User:
        result: User = await self.t.get("/api/auth/me")
        return result
