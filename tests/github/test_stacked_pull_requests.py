"""Stacked pull requests: a ticket stacked on unmerged work opens its PR on its dependency's
branch, so GitHub shows only its own work; it moves to the default branch when that merges.

Through the real server and real pushes to the fake GitHub, whose pulls are listed, created and
re-based as GitHub does (``base`` must be a branch; the list filters on it). What a PR shows is
GitHub's three-dot diff, computed here with ``git`` in the fake's repository.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import httpx

from codality_server.http.keys import SERVICES
from tests.agent.test_stacked_work import plan_tickets
from tests.conftest import RunningServer, assert_error, create_ticket, git, stack_work
from tests.fakes.anthropic_server import FakeAnthropic, text, tool
from tests.fakes.github_server import FakeGitHub
from tests.github_flow import (
    STACKED_BRANCH,
    TICKET_BRANCH,
    WIDGETS,
    connect,
    eventually,
    linked_project,
    open_pr,
    settle,
)


def shown_by_github(fake: FakeGitHub, number: int) -> list[str]:
    """The files GitHub's page of pull request ``number`` shows: base...head."""
    pull = fake.pull(WIDGETS, number)
    bare = fake.repo(WIDGETS).path
    return git(bare, "diff", "--name-only", f"refs/heads/{pull.base}...{pull.head_sha}").split()


async def test_a_stacked_pr_shows_only_its_work_and_moves_to_main_when_its_base_merges(
    server: RunningServer,
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    linked: dict[str, Any],
    ticket: dict[str, Any],
    git_repo: Path,
    tmp_path: Path,
) -> None:
    slug = linked["slug"]
    pulls = f"/api/projects/{slug}/tickets"
    stacked = await create_ticket(api, slug, title="Say goodbye too")
    stack_work(
        server,
        git_repo,
        ticket,
        stacked,
        tmp_path / "wt2",
        STACKED_BRANCH,
        {"farewell.txt": "goodbye\n"},
    )

    # Without #1 on GitHub there is no base showing only #2's work: the command to run first.
    refused = assert_error(await api.post(f"{pulls}/2/pull-request", json={}), 409)
    assert refused["reason"] == "dependency_without_pr" and refused["ticket"] == 1
    assert "`codality pr create 1`" in refused["message"]
    assert not fake_github.pulls.get(WIDGETS)

    first = await open_pr(api, slug, 1)
    assert shown_by_github(fake_github, first["number"]) == ["notes.md", "src/app.py"]
    # #1 moves on after its PR opened, and #2 starts again from there: #2's push brings it.
    (tmp_path / "wt" / "later.txt").write_text("later\n")
    git(tmp_path / "wt", "add", "later.txt")
    git(tmp_path / "wt", "commit", "-q", "-m", "later")
    moved_on = git(tmp_path / "wt", "rev-parse", "HEAD").strip()
    git(tmp_path / "wt2", "rebase", "-q", TICKET_BRANCH)
    server.call(server.app[SERVICES].tickets.set_stacked_on(stacked["id"], ticket["id"], moved_on))
    bare = fake_github.repo(WIDGETS).path
    second = await open_pr(api, slug, 2)
    assert second["base_branch"] == TICKET_BRANCH
    pull = fake_github.pull(WIDGETS, second["number"])
    assert pull.base == TICKET_BRANCH and pull.head == STACKED_BRANCH
    assert git(bare, "rev-parse", f"refs/heads/{TICKET_BRANCH}").strip() == moved_on
    assert f"Stacked on #{first['number']} (codality-1)" in pull.body
    assert shown_by_github(fake_github, second["number"]) == ["farewell.txt"]

    # Merging #2 first would put its work on #1's branch: #1 goes first.
    early = assert_error(await api.post(f"{pulls}/2/pull-request/merge", json={}), 409)
    assert early["reason"] == "stacked" and "`codality pr merge 1`" in early["message"]
    assert fake_github.pull(WIDGETS, second["number"]).state == "open"

    merged = await api.post(f"{pulls}/1/pull-request/merge", json={"method": "merge"})
    assert merged.status_code == 200, merged.text
    assert f"pull request #{second['number']} now targets main" in merged.json()["sync"]
    settle(server, fake_github)
    assert fake_github.pull(WIDGETS, second["number"]).base == "main"
    assert shown_by_github(fake_github, second["number"]) == ["farewell.txt"]
    shown = (await api.get(f"{pulls}/2/pull-request")).json()
    assert shown["base_branch"] == "main" and shown["state"] == "open"

    done = await api.post(f"{pulls}/2/pull-request/merge", json={"method": "merge"})
    assert done.status_code == 200, done.text
    settle(server, fake_github)
    assert git(bare, "show", "main:farewell.txt") == "goodbye\n"
    assert (await api.get(f"{pulls}/2")).json()["status"] == "done"


async def test_protected_mode_opens_a_stacked_ticket_s_pr_on_its_dependency_s_branch(
    server: RunningServer,
    agent_api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    fake_anthropic: FakeAnthropic,
    git_repo: Path,
) -> None:
    """A plan's two steps, the second depending on the first, each run by the agent: protected
    mode opens each PR when its run completes, the second on the first one's branch."""
    await connect(agent_api, fake_github)
    project = await linked_project(agent_api, fake_github, git_repo)
    slug = project["slug"]
    turned_on = await agent_api.put(f"/api/projects/{slug}", json={"protected_main": True})
    assert turned_on.status_code == 200, turned_on.text
    fake_anthropic.script(
        tool("write_file", path="first.txt", content="first\n"),
        text("First."),
        tool("write_file", path="second.txt", content="second\n"),
        text("Second."),
    )
    await plan_tickets(agent_api, project)

    async def opened(number: int) -> Any:
        settle(server, fake_github)
        return fake_github.pulls.get(WIDGETS.lower(), {}).get(number)

    for number in (1, 2):
        started = await agent_api.post(f"/api/projects/{slug}/tickets/{number}/agent/start")
        assert started.status_code == 202, started.text
        await eventually(partial(opened, number), what=f"the PR of #{number} to open")
    first = (await agent_api.get(f"/api/projects/{slug}/tickets/1")).json()
    second = (await agent_api.get(f"/api/projects/{slug}/tickets/2")).json()
    assert second["stacked_on"] == 1
    assert fake_github.pull(WIDGETS, 1).base == "main"
    assert fake_github.pull(WIDGETS, 2).base == first["branch"]
    assert shown_by_github(fake_github, 1) == ["first.txt"]
    assert shown_by_github(fake_github, 2) == ["second.txt"]
