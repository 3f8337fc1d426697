"""What the agent writes in its worktree never makes the server read outside it (issue 19, item 2).

Each test plays the agent on a real worktree the server made, then asks the real server for the
ticket's diff. The secrets are the server's own: the env file in its data dir holds the API key.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from dulwich.index import Index, IndexEntry

from codality_server.http.keys import SERVICES
from tests.conftest import RunningServer, create_ticket, git, point_git_file_at_own_git_dir

SECRET = "sk-ant-api03-THE-SERVERS-OWN-SECRET-0123456789"


@pytest.fixture
async def worktree(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any]
) -> tuple[dict[str, Any], Path]:
    """Ticket 1's worktree as the server makes it before a run, with one uncommitted file; the
    data dir's env file holds ``SECRET``."""
    assert (await api.put("/api/settings/env", json={"ANTHROPIC_API_KEY": SECRET})).is_success
    assert SECRET in (server.data_dir / "env").read_text()  # the control: it is there to read
    ticket = await create_ticket(api, project["slug"])
    services = server.app[SERVICES]
    proj, found = server.call(services.tickets.get(project["slug"], ticket["number"]))
    made = server.call(services.agent.make_worktree(proj, found))
    path = Path(made.worktree_path)
    (path / "notes.md").write_text("real work\n")
    return ticket, path


async def ticket_diff(
    api: httpx.AsyncClient, project: dict[str, Any], number: int
) -> tuple[str, dict[str, str]]:
    """``GET …/diff`` (the patch) and ``GET …/diff/stats`` (each file's status)."""
    base = f"/api/projects/{project['slug']}/tickets/{number}/diff"
    patch, stats = await api.get(base), await api.get(f"{base}/stats")
    assert patch.status_code == 200, patch.text
    assert stats.status_code == 200, stats.text
    files = {f["path"]: f["status"] for f in stats.json()["files"]}
    assert files.get("notes.md") == "added"  # the worktree's own work is read
    return patch.json()["diff"], files


async def test_a_git_file_pointing_at_a_git_dir_of_the_agents_is_not_followed(
    server: RunningServer,
    api: httpx.AsyncClient,
    project: dict[str, Any],
    git_repo: Path,
    worktree: tuple[dict[str, Any], Path],
) -> None:
    """The agent's own git dir, borrowing the repository's objects, with ``core.worktree`` at
    the data dir (which is ``../../..`` from the worktree)."""
    ticket, path = worktree
    point_git_file_at_own_git_dir(path, git_repo, server.data_dir)

    patch, files = await ticket_diff(api, project, ticket["number"])

    assert SECRET not in patch
    assert "env" not in files and "codality.db" not in files
    assert "real work" in patch
    # The user's own git in the worktree is what the agent made of it; the server's is not.
    assert git(git_repo, "worktree", "list").count(str(path)) == 1


async def test_a_folder_swapped_for_a_link_to_the_data_dir_is_not_entered(
    server: RunningServer,
    api: httpx.AsyncClient,
    project: dict[str, Any],
    worktree: tuple[dict[str, Any], Path],
) -> None:
    """``src`` (tracked) becomes ``src -> {data dir}``: the link is a change, its target unread."""
    ticket, path = worktree
    for name in os.listdir(path / "src"):
        os.unlink(path / "src" / name)
    os.rmdir(path / "src")
    os.symlink(server.data_dir, path / "src")

    patch, files = await ticket_diff(api, project, ticket["number"])

    assert SECRET not in patch
    assert files["src"] == "added" and files["src/app.py"] == "deleted"
    assert "src/env" not in files


async def test_an_index_entry_climbing_out_of_the_worktree_is_ignored(
    api: httpx.AsyncClient, project: dict[str, Any], worktree: tuple[dict[str, Any], Path]
) -> None:
    """An index (written by an agent whose sandbox lets it) naming ``../../../env``."""
    ticket, path = worktree
    admin = Path(git(path, "rev-parse", "--absolute-git-dir").strip())
    index = Index(str(admin / "index"))
    some = index[b"README.md"]
    assert isinstance(some, IndexEntry)
    index[b"../../../env"] = dataclasses.replace(some, size=0, mtime=(0, 0))
    index.write()

    patch, files = await ticket_diff(api, project, ticket["number"])

    assert SECRET not in patch
    assert not any(".." in name for name in files)
