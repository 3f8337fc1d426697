"""Connecting a server to the fake GitHub the way a person does, and other shared steps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import RunningServer, create_project, git
from tests.fakes.github_server import FakeGitHub

OWNER = "acme"


async def point_at(api: httpx.AsyncClient, fake: FakeGitHub) -> None:
    env = {"GITHUB_URL": fake.web_url, "GITHUB_API_BASE_URL": fake.api_url}
    assert (await api.put("/api/settings/env", json=env)).status_code == 200


async def connect(api: httpx.AsyncClient, fake: FakeGitHub, account: str = OWNER) -> dict[str, Any]:
    """The manifest flow and the installation, following every redirect by hand as a browser
    would; returns the status panel."""
    await point_at(api, fake)
    started = await api.post("/api/github/app/manifest", json={"name": "Codality Test"})
    assert started.status_code == 201, started.text
    answer = started.json()
    async with httpx.AsyncClient(timeout=30) as browser:
        page = await browser.get(answer["url"])
        assert page.status_code == 200 and "name=manifest" in page.text
        created = await browser.post(
            answer["post_url"], data={"manifest": __import__("json").dumps(answer["manifest"])}
        )
        assert created.status_code == 302, created.text
        back = await browser.get(created.headers["location"])
        assert back.status_code == 302, back.text
        link = back.headers["location"]  # the install page, with the state GitHub hands back
        install = await browser.get(link + ("&" if "?" in link else "?") + f"account={account}")
        assert install.status_code == 302, install.text
        setup = await browser.get(install.headers["location"])
        assert setup.status_code == 200, setup.text
    status = await api.get("/api/github/app/status")
    assert status.status_code == 200
    return dict(status.json())


TEAM = ("alice", "bob")
"""The people with write access to the repositories ``linked_project`` makes."""
WIDGETS = f"{OWNER}/widgets"
"""The repository ``linked_project`` makes by default."""
TICKET_BRANCH = "codality/1-friendlier-greeting"
"""Ticket #1's branch in the GitHub tests (its title is "Friendlier greeting")."""


STACKED_BRANCH = "codality/2-say-goodbye-too"
"""Ticket #2's branch in the GitHub tests that stack it on ticket #1 (title "Say goodbye too")."""


async def open_pr(api: httpx.AsyncClient, slug: str, number: int = 1) -> dict[str, Any]:
    """Open the ticket's pull request (a real push to the fake GitHub)."""
    response = await api.post(f"/api/projects/{slug}/tickets/{number}/pull-request", json={})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def linked_project(
    api: httpx.AsyncClient, fake: FakeGitHub, repo: Path, name: str = "widgets"
) -> dict[str, Any]:
    """``repo`` on the fake GitHub as acme/NAME, registered and linked (origin points there)."""
    fake.create_repo(OWNER, name, source=repo, collaborators=TEAM)
    git(repo, "remote", "add", "origin", f"{fake.web_url}/{OWNER}/{name}.git")
    project = await create_project(api, repo)
    linked = await api.post(f"/api/projects/{project['slug']}/github/link", json={})
    assert linked.status_code == 200, linked.text
    return dict(linked.json())


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 20.0, what: str = "condition"
) -> Any:
    """Poll ``check`` until it returns something truthy (work after a webhook runs later)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def webhooks_idle(server: RunningServer) -> None:
    """Wait until the server has processed every webhook it received."""
    from codality_server.http.keys import SERVICES

    server.call(server.app[SERVICES].webhooks.idle())


def settle(server: RunningServer, fake: FakeGitHub) -> None:
    """Every webhook the fake queued has been answered and processed (twice: processing may
    cause more deliveries)."""
    for _ in range(3):
        fake.wait_deliveries()
        webhooks_idle(server)
