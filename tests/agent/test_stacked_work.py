"""Dependent work sees its dependency: a ticket depending on unmerged work starts from its branch.

Through the real server, the real SDK against the scripted model, and real git checked with
``git``: a work queue of two plan tickets (the second depending on the first), a plain ticket
start, a dependency that moves on after its dependent started, a squash-merged dependency,
several dependencies, and a discard that would strand stacked work.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, assert_error, git
from tests.fakes.anthropic_server import FakeAnthropic, tool

from .conftest import agent_url, new_ticket, wait_for_end
from .test_queue_run import make_queue, start, wait_for_queue, write


def ticket_url(project: dict[str, Any], number: int, *rest: str) -> str:
    return "/".join([f"/api/projects/{project['slug']}/tickets/{number}", *rest])


async def plan_tickets(api: httpx.AsyncClient, project: dict[str, Any]) -> None:
    """Approve a plan of two drafts, the second depending on the first: tickets #1 and #2."""
    drafts = [
        {"title": "Write the first file", "description": "first.txt"},
        {"title": "Build on the first file", "description": "second.txt", "depends_on": [1]},
    ]
    url = f"/api/projects/{project['slug']}/plans"
    plan = await api.post(url, json={"title": "Two steps", "body": "", "drafts": drafts})
    assert plan.status_code == 201, plan.text
    approved = await api.post(f"{url}/{plan.json()['id']}/approve")
    assert approved.status_code == 200, approved.text
    second = (await api.get(ticket_url(project, 2))).json()
    assert second["depends_on"] == [1]


async def run(api: httpx.AsyncClient, project: dict[str, Any], number: int) -> dict[str, Any]:
    """Start the agent on ticket ``number`` and wait for its run to end; the ticket after it."""
    ticket = {"number": number}
    started = await api.post(agent_url(project, ticket, "start"), json={})
    assert started.status_code == 202, started.text
    assert (await wait_for_end(api, project, ticket))["status"] == "completed"
    return dict((await api.get(ticket_url(project, number))).json())


def tool_results(fake: FakeAnthropic) -> list[str]:
    """The text of every tool result the model was sent, in order."""
    found = []
    for request in fake.requests:
        for message in request["messages"]:
            if message["role"] != "user" or isinstance(message["content"], str):
                continue
            for block in message["content"]:
                if block.get("type") == "tool_result":
                    found.append(json.dumps(block.get("content")))
    return found


async def diff_paths(api: httpx.AsyncClient, project: dict[str, Any], number: int) -> list[str]:
    stats = (await api.get(ticket_url(project, number, "diff", "stats"))).json()
    return sorted(f["path"] for f in stats["files"])


async def test_a_queue_of_two_plan_tickets_stacks_the_second_on_the_first(
    server: RunningServer,
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    git_repo: Path,
) -> None:
    fake_anthropic.script(
        *write("first.txt", "from the first ticket\n", "Wrote the first file."),
        tool("read_file", path="first.txt"),
        *write("second.txt", "built on it\n", "Read it and wrote the second."),
    )
    await plan_tickets(agent_api, project)
    queue = await make_queue(agent_api, project, [1, 2])  # defaults: no merge_each
    await start(agent_api, project, queue)
    assert (await wait_for_queue(agent_api, project, queue))["status"] == "completed"

    # The second agent read the first one's file (before: "not found": it started from main).
    read = [r for r in tool_results(fake_anthropic) if "from the first ticket" in r]
    assert read, tool_results(fake_anthropic)
    first = (await agent_api.get(ticket_url(project, 1))).json()
    second = (await agent_api.get(ticket_url(project, 2))).json()
    assert second["stacked_on"] == 1 and first["stacked_on"] is None
    assert git(git_repo, "merge-base", "--is-ancestor", first["branch"], second["branch"]) == ""
    # Each diff shows its own work only.
    assert await diff_paths(agent_api, project, 1) == ["first.txt"]
    assert await diff_paths(agent_api, project, 2) == ["second.txt"]

    # Merging #2 merges its stack, in order, after one question listing both.
    plan = (await agent_api.get(ticket_url(project, 2, "worktree", "merge"))).json()
    assert [t["number"] for t in plan["tickets"]] == [1, 2]
    merged = await agent_api.post(ticket_url(project, 2, "worktree", "merge"), json={})
    assert merged.status_code == 200, merged.text
    assert [m["number"] for m in merged.json()["merged"]] == [1, 2]
    for number in (1, 2):
        shown = (await agent_api.get(ticket_url(project, number))).json()
        assert (shown["status"], shown["branch"]) == ("done", None)
    assert git(git_repo, "show", "main:first.txt") == "from the first ticket\n"
    assert git(git_repo, "show", "main:second.txt") == "built on it\n"
    kept = (await agent_api.get(ticket_url(project, 2, "merge-diff", "stats"))).json()
    assert [f["path"] for f in kept["files"]] == ["second.txt"]


async def test_a_plain_start_stacks_and_the_diff_ignores_later_dependency_commits(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    git_repo: Path,
) -> None:
    fake_anthropic.script(
        *write("base.txt", "base\n", "Base done."),
        *write("top.txt", "top\n", "Top done."),
    )
    await plan_tickets(agent_api, project)
    first = await run(agent_api, project, 1)
    second = await run(agent_api, project, 2)
    assert second["stacked_on"] == 1
    assert (Path(second["worktree_path"]) / "base.txt").read_text() == "base\n"

    # The dependency moves on after its dependent started.
    worktree = Path(first["worktree_path"])
    (worktree / "later.txt").write_text("later\n")
    git(worktree, "add", "later.txt")
    git(worktree, "commit", "-q", "-m", "more work on the first ticket")
    assert await diff_paths(agent_api, project, 2) == ["top.txt"]
    assert await diff_paths(agent_api, project, 1) == ["base.txt", "later.txt"]

    # A stacked dependency cannot be discarded from under its dependent.
    refused = assert_error(await agent_api.post(ticket_url(project, 1, "worktree", "discard")), 409)
    assert refused["reason"] == "stacked_on" and refused["tickets"] == [2]
    assert "#2 started from its work" in refused["message"]

    # Merged on its own with squash, #1 leaves #2 based on main, still showing only its work.
    squashed = await agent_api.post(
        ticket_url(project, 1, "worktree", "merge"), json={"strategy": "squash"}
    )
    assert squashed.status_code == 200, squashed.text
    assert await diff_paths(agent_api, project, 2) == ["top.txt"]
    plan = (await agent_api.get(ticket_url(project, 2, "worktree", "merge"))).json()
    assert [t["number"] for t in plan["tickets"]] == [2]
    merged = await agent_api.post(
        ticket_url(project, 2, "worktree", "merge"), json={"strategy": "squash"}
    )
    assert merged.status_code == 200, merged.text
    kept = (await agent_api.get(ticket_url(project, 2, "merge-diff", "stats"))).json()
    assert [f["path"] for f in kept["files"]] == ["top.txt"]
    assert sorted(git(git_repo, "ls-tree", "--name-only", "main").split()) == sorted(
        ["README.md", "base.txt", "later.txt", "src", "top.txt"]
    )


@pytest.mark.parametrize("chained", [True, False])
async def test_several_dependencies_stack_on_the_top_of_a_chain_or_refuse(
    server: RunningServer,
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    chained: bool,
) -> None:
    fake_anthropic.script(
        *write("a.txt", "a\n", "A."), *write("b.txt", "b\n", "B."), *write("c.txt", "c\n", "C.")
    )
    from codality_server.db.dependencies import add_dependencies
    from codality_server.http.keys import SERVICES

    for title in ("A", "B", "C"):
        await new_ticket(agent_api, project["slug"], title=title)
    tickets = (await agent_api.get(f"/api/projects/{project['slug']}/tickets")).json()
    ids = {t["number"]: t["id"] for t in tickets}

    async def depends(ticket: int, *on: int) -> None:
        async with server.app[SERVICES].core.db.transaction() as conn:
            await add_dependencies(conn, ids[ticket], [ids[n] for n in on])

    if chained:
        server.call(depends(2, 1))
    server.call(depends(3, 1, 2))
    await run(agent_api, project, 1)
    second = await run(agent_api, project, 2)
    assert second["stacked_on"] == (1 if chained else None)

    if chained:
        third = await run(agent_api, project, 3)
        assert third["stacked_on"] == 2
        assert await diff_paths(agent_api, project, 3) == ["c.txt"]
        plan = (await agent_api.get(ticket_url(project, 3, "worktree", "merge"))).json()
        assert [t["number"] for t in plan["tickets"]] == [1, 2, 3]
        return
    refused = assert_error(await agent_api.post(agent_url(project, {"number": 3}, "start")), 409)
    assert refused["reason"] == "dependencies_apart"
    assert "#1 and #2" in refused["message"]
    # Once one of them is merged, #3 stacks on the other.
    assert (await agent_api.post(ticket_url(project, 1, "worktree", "merge"))).status_code == 200
    third = await run(agent_api, project, 3)
    assert third["stacked_on"] == 2
    assert (Path(third["worktree_path"]) / "b.txt").is_file()
    assert await diff_paths(agent_api, project, 3) == ["c.txt"]
