"""Agent helpers: the ticket the scripted model works on, and waiting for sessions, blocks and
events (the fake model and ``agent_api`` fixtures live in ``tests/conftest.py``)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.conftest import create_ticket

TERMINAL = {"completed", "failed", "stopped", "timed_out", "interrupted"}


async def new_ticket(api: httpx.AsyncClient, slug: str, **fields: Any) -> dict[str, Any]:
    """The ticket the scripted agent runs work on (title and description overridable)."""
    defaults = {"title": "Add a farewell function", "description": "We need `farewell(name)`."}
    return await create_ticket(api, slug, **{**defaults, **fields})


def agent_url(project: dict[str, Any], ticket: dict[str, Any], verb: str) -> str:
    return f"/api/projects/{project['slug']}/tickets/{ticket['number']}/agent/{verb}"


async def wait_for_end(
    api: httpx.AsyncClient, project: dict[str, Any], ticket: dict[str, Any], timeout: float = 30
) -> dict[str, Any]:
    """Poll the status until the latest session has ended; returns that session."""
    async with asyncio.timeout(timeout):
        while True:
            status = (await api.get(agent_url(project, ticket, "status"))).json()
            if not status["running"] and status["session"]["status"] in TERMINAL:
                return dict(status["session"])
            await asyncio.sleep(0.05)


async def wait_for_block(
    api: httpx.AsyncClient,
    project: dict[str, Any],
    ticket: dict[str, Any],
    session_id: int,
    kind: str,
    timeout: float = 20,
) -> dict[str, Any]:
    """Poll the stored transcript until a block of ``kind`` appears."""
    url = agent_url(project, ticket, f"sessions/{session_id}")
    async with asyncio.timeout(timeout):
        while True:
            blocks = (await api.get(url)).json()["transcript"]
            found = [b for b in blocks if b["kind"] == kind]
            if found:
                return dict(found[-1])
            await asyncio.sleep(0.05)


async def replay_events(
    api: httpx.AsyncClient, ticket: dict[str, Any], until: str = "agent:stopped"
) -> list[dict[str, Any]]:
    """The ticket channel's events from the start of the server's replay ring, over the real SSE
    endpoint, up to and including the first ``until`` event."""
    return await channel_events(api, f"ticket:{ticket['id']}", until=until)


async def project_events(
    api: httpx.AsyncClient, project: dict[str, Any], after: int = 0, until: str = "queue:completed"
) -> list[dict[str, Any]]:
    """The project channel's events after id ``after``, up to and including the first ``until``."""
    return await channel_events(api, f"project:{project['id']}", after, until)


async def channel_events(
    api: httpx.AsyncClient, channel: str, after: int = 0, until: str = "agent:stopped"
) -> list[dict[str, Any]]:
    """One channel's events after id ``after`` (0: the whole replay ring), over the real SSE
    endpoint, up to and including the first ``until`` event."""
    from httpx_sse import aconnect_sse

    seen: list[dict[str, Any]] = []
    params = {"channel": channel}
    async with (
        asyncio.timeout(20),
        aconnect_sse(
            api, "GET", "/api/events", params=params, headers={"Last-Event-ID": str(after)}
        ) as source,
    ):
        async for sse in source.aiter_sse():
            if not sse.data:
                continue
            frame = sse.json()
            seen.append({"id": int(sse.id), "type": frame["type"], "data": frame["data"]})
            if frame["type"] == until:
                return seen
    raise AssertionError(f"the stream ended before {until}")
