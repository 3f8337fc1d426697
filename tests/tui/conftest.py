"""TUI fixtures: a project on the real server, tickets, and the app signed in as the admin."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot

from codality_cli.api import ApiClient
from codality_cli.tui.app import CodalityApp
from tests.agent.conftest import agent_api, fake_anthropic  # noqa: F401 - shared fixtures
from tests.conftest import RunningServer

SIZE = (120, 34)


@pytest.fixture
async def project(api: httpx.AsyncClient, git_repo: Path) -> dict[str, Any]:
    response = await api.post("/api/projects", json={"mode": "existing", "path": str(git_repo)})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def add_ticket(api: httpx.AsyncClient, slug: str, **fields: Any) -> dict[str, Any]:
    response = await api.post(f"/api/projects/{slug}/tickets", json={"title": "A ticket", **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
def make_app(server: RunningServer, admin_token: str) -> Callable[..., CodalityApp]:
    def make(slug: str | None, follow: bool = True) -> CodalityApp:
        return CodalityApp(ApiClient(server.url, admin_token), slug, follow=follow)

    return make


async def wait_until(pilot: Pilot[Any], check: Callable[[], bool], timeout: float = 10) -> None:
    """Let the app run until ``check()`` holds (a deadline, not a timing assertion)."""
    async with asyncio.timeout(timeout):
        while not check():
            await pilot.pause(0.02)


def publish(
    server: RunningServer, type_: str, ticket: dict[str, Any], data: dict[str, Any]
) -> None:
    """Put an event on the server's bus, on the ticket's and its project's channels."""
    from codality_server.keys import BUS

    channels = [f"ticket:{ticket['id']}", f"project:{ticket['project_id']}"]

    async def put() -> None:
        server.app[BUS].publish(type_, channels, data)

    server.call(put())


def notifications(app: CodalityApp) -> list[tuple[str, str]]:
    """(severity, message) of every notification the app has raised and still shows."""
    return [(n.severity, n.message) for n in app._notifications]
