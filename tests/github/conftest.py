"""Fixtures of the GitHub tests: a project linked to the fake GitHub, a ticket with work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, attach_work, create_ticket
from tests.fakes.github_server import FakeGitHub
from tests.github_flow import TICKET_BRANCH, connect, linked_project


@pytest.fixture
async def linked(
    server: RunningServer, api: httpx.AsyncClient, fake_github: FakeGitHub, git_repo: Path
) -> dict[str, Any]:
    """The sample repository as acme/widgets on the fake GitHub, its project linked to it."""
    await connect(api, fake_github)
    return await linked_project(api, fake_github, git_repo)


@pytest.fixture
async def ticket(
    server: RunningServer,
    api: httpx.AsyncClient,
    linked: dict[str, Any],
    git_repo: Path,
    tmp_path: Path,
) -> dict[str, Any]:
    """Ticket #1 with a commit of work in its worktree (``tmp_path / "wt"``)."""
    created = await create_ticket(
        api, linked["slug"], title="Friendlier greeting", description="Say hi, not hello."
    )
    attach_work(server, created, git_repo, tmp_path / "wt", TICKET_BRANCH)
    return created
