"""Helpers for tests that need a second, signed-in user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tests.conftest import RunningServer, bearer_client, latest_outbox_code


async def add_user(api: httpx.AsyncClient, email: str, role: str = "member") -> dict[str, object]:
    """Invite a user through the admin API; returns its view."""
    response = await api.post("/api/users", json={"email": email, "role": role})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def otp_token(server: RunningServer, email: str) -> str:
    """Sign ``email`` in with the e-mailed code from the outbox; returns the session token."""
    async with httpx.AsyncClient(base_url=server.url) as client:
        sent = await client.post("/api/auth/request-otp", json={"email": email})
        assert sent.status_code == 200, sent.text
        code = latest_outbox_code(server.data_dir)
        verified = await client.post("/api/auth/verify-otp", json={"email": email, "code": code})
        assert verified.status_code == 200, verified.text
        return str(verified.json()["token"])


@asynccontextmanager
async def member_client(
    server: RunningServer, api: httpx.AsyncClient, email: str = "member@example.com"
) -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in as a newly invited member."""
    await add_user(api, email)
    token = await otp_token(server, email)
    async with bearer_client(server.url, token) as client:
        yield client
