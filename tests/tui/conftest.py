"""TUI fixtures and helpers: the app signed in as the admin, waiting on it, bus events, notices."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from textual.pilot import Pilot
from textual.screen import Screen

from codality_cli.api import ApiClient
from codality_cli.tui.app import CodalityApp
from tests.conftest import RunningServer, publish
from tests.fakes.anthropic_server import text, tool

SIZE = (120, 34)
# The scripted agent's run that adds farewell() above greet() in the sample repository.
FAREWELL_RUN = (
    tool(
        "edit_file",
        path="src/app.py",
        old_text="def greet(name):",
        new_text="def farewell(name):\n    return f'goodbye {name}'\n\n\ndef greet(name):",
    ),
    text("Added farewell."),
)
ScreenT = TypeVar("ScreenT", bound=Screen[Any])


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


async def wait_for_screen(
    pilot: Pilot[Any], app: CodalityApp, kind: type[ScreenT], timeout: float = 10
) -> ScreenT:
    """Let the app run until it shows a ``kind`` screen; returns that screen."""
    await wait_until(pilot, lambda: isinstance(app.screen, kind), timeout)
    screen = app.screen
    assert isinstance(screen, kind)
    return screen


def publish_on_ticket(
    server: RunningServer, type_: str, ticket: dict[str, Any], data: dict[str, Any]
) -> None:
    """Put an event on the server's bus, on the ticket's and its project's channels."""
    publish(server, type_, [f"ticket:{ticket['id']}", f"project:{ticket['project_id']}"], data)


def notifications(app: CodalityApp) -> list[tuple[str, str]]:
    """(severity, message) of every notification the app has raised and still shows."""
    return [(n.severity, n.message) for n in app._notifications]
