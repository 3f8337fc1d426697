"""Pull requests: opened with a real push, live status with check runs, comments, re-push,
merge on GitHub (and its refusal), and discard closing the PR."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from codality_server.domain.events import ticket_channel
from codality_server.domain.sessions import Owner
from codality_server.http.keys import SERVICES
from codality_server.settings import ServerSettings
from tests.conftest import RunningServer, assert_error, create_ticket, git, start_server
from tests.fakes.github_server import CheckRun, FakeGitHub
from tests.github_flow import (
    TICKET_BRANCH,
    WIDGETS,
    eventually,
    open_pr,
    settle,
)


async def test_pr_is_opened_with_a_real_push(
    server: RunningServer,
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    linked: dict[str, Any],
    ticket: dict[str, Any],
    git_repo: Path,
    tmp_path: Path,
) -> None:
    slug = linked["slug"]
    pr = await open_pr(api, slug)
    assert pr["number"] == 1 and pr["state"] == "open" and pr["head_branch"] == TICKET_BRANCH
    # The branch (with the uncommitted notes, committed for the PR) is on GitHub for real.
    bare = fake_github.repo(WIDGETS).path
    tip = git(bare, "rev-parse", f"refs/heads/{TICKET_BRANCH}").strip()
    assert tip == pr["head_sha"] == git(tmp_path / "wt", "rev-parse", "HEAD").strip()
    assert "notes.md" in git(bare, "ls-tree", "--name-only", tip)
    pull = fake_github.pull(WIDGETS, 1)
    assert pull.title == "Friendlier greeting [codality-1]" and "Say hi, not hello." in pull.body
    assert pull.base == "main"
    # The token went over HTTP only: not in .git/config of the repository or the worktree.
    for token in fake_github.issued_tokens:
        assert token not in (git_repo / ".git" / "config").read_text()
    # Codality's check runs are on the head commit.
    names = {r.name for r in fake_github.check_runs.values() if r.head_sha == tip}
    assert {"codality/agent", "codality/merge-readiness"} <= names
    got = (await api.get(f"/api/projects/{slug}/tickets/1/pull-request")).json()
    assert got["number"] == 1
    listed = (await api.get(f"/api/projects/{slug}/pull-requests")).json()
    assert [p["ticket_number"] for p in listed] == [1]
    card = (await api.get(f"/api/projects/{slug}/tickets/1")).json()["pull_request"]
    assert card["number"] == 1 and card["state"] == "open"
    assert_error(await api.post(f"/api/projects/{slug}/tickets/1/pull-request", json={}), 409)
    settle(server, fake_github)


async def test_pr_needs_a_link_and_a_branch(
    api: httpx.AsyncClient, linked: dict[str, Any], fake_github: FakeGitHub
) -> None:
    slug = linked["slug"]
    await create_ticket(api, slug, title="No work yet")
    assert_error(await api.post(f"/api/projects/{slug}/tickets/1/pull-request", json={}), 404)
    await api.post(f"/api/projects/{slug}/github/unlink")
    assert_error(await api.post(f"/api/projects/{slug}/tickets/1/pull-request", json={}), 409)
    assert_error(await api.get(f"/api/projects/{slug}/tickets/1/pull-request"), 404)


async def test_status_counts_checks_and_review_state(
    server: RunningServer,
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    linked: dict[str, Any],
    ticket: dict[str, Any],
) -> None:
    slug = linked["slug"]
    pr = await open_pr(api, slug)
    sha = pr["head_sha"]
    fake_github.ci(WIDGETS, sha, "test", "success")
    fake_github.ci(WIDGETS, sha, "lint", "failure", summary="E501 line too long")
    fake_github.ci(WIDGETS, sha, "build")
    fake_github.review(WIDGETS, 1, "alice", "approved", "LGTM")
    status = (await api.get(f"/api/projects/{slug}/tickets/1/pull-request/status")).json()
    assert status["counts"] == {"passed": 1, "failed": 1, "pending": 1}
    assert status["review_state"] == "approved"
    outcomes = {c["name"]: c["outcome"] for c in status["checks"]}
    assert outcomes["lint"] == "failed" and outcomes["build"] == "pending"
    assert outcomes["codality/agent"] == "passed"  # listed, not counted
    assert status["pull_request"]["checks"] == {"passed": 1, "failed": 1, "pending": 1}
    assert status["mergeable"] is True
    settle(server, fake_github)
    card = (await api.get(f"/api/projects/{slug}/tickets/1")).json()["pull_request"]
    assert card["checks"] == {"passed": 1, "failed": 1, "pending": 1}
    assert card["review_state"] == "approved"


async def test_comments_are_synced_and_stored(
    server: RunningServer,
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    linked: dict[str, Any],
    ticket: dict[str, Any],
) -> None:
    slug = linked["slug"]
    await open_pr(api, slug)
    fake_github.comment(WIDGETS, 1, "alice", "Could you keep the exclamation mark?")
    fake_github.review(
        WIDGETS,
        1,
        "bob",
        "changes_requested",
        "Two things.",
        inline=[{"path": "src/app.py", "line": 2, "body": "hi → hello"}],
    )
    settle(server, fake_github)
    synced = (await api.get(f"/api/projects/{slug}/tickets/1/pull-request/comments")).json()
    kinds = sorted((c["kind"], c["author"]) for c in synced)
    assert kinds == [("issue", "alice"), ("review", "bob"), ("review_comment", "bob")]
    inline = next(c for c in synced if c["kind"] == "review_comment")
    assert inline["path"] == "src/app.py" and inline["line"] == 2
    again = (await api.get(f"/api/projects/{slug}/tickets/1/pull-request/comments")).json()
    assert len(again) == 3


async def test_update_pushes_new_work(
    server: RunningServer,
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    linked: dict[str, Any],
    ticket: dict[str, Any],
    tmp_path: Path,
) -> None:
    slug = linked["slug"]
    first = await open_pr(api, slug)
    (tmp_path / "wt" / "more.txt").write_text("more\n")
    updated = await api.post(f"/api/projects/{slug}/tickets/1/pull-request/update", json={})
    assert updated.status_code == 200, updated.text
    head = updated.json()["head_sha"]
    assert head != first["head_sha"]
    assert fake_github.pull(WIDGETS, 1).head_sha == head
    settle(server, fake_github)


async def test_merge_on_github_finishes_the_ticket(
    server: RunningServer,
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    linked: dict[str, Any],
    ticket: dict[str, Any],
    git_repo: Path,
    tmp_path: Path,
) -> None:
    slug = linked["slug"]
    await open_pr(api, slug)
    merged = await api.post(f"/api/projects/{slug}/tickets/1/pull-request/merge", json={})
    assert merged.status_code == 200, merged.text
    body = merged.json()
    assert body["merged"] and body["method"] == "merge"
    github_main = git(fake_github.repo(WIDGETS).path, "rev-parse", "main").strip()
    assert body["sha"] == github_main
    settle(server, fake_github)
    # Ticket done, worktree gone, the local main (and its checkout) fast-forwarded.
    got = (await api.get(f"/api/projects/{slug}/tickets/1")).json()
    assert got["status"] == "done" and got["worktree_path"] is None
    assert got["pull_request"]["state"] == "merged"
    assert not (tmp_path / "wt").exists()
    assert git(git_repo, "rev-parse", "main").strip() == github_main
    assert "hi {name}!" in (git_repo / "src" / "app.py").read_text()
    assert git(git_repo, "status", "--porcelain") == ""
    stats = (await api.get(f"/api/projects/{slug}/tickets/1/merge-diff/stats")).json()
    assert stats["files_changed"] == 2
    assert_error(await api.post(f"/api/projects/{slug}/tickets/1/pull-request/merge", json={}), 409)


async def test_github_refusing_a_merge_is_a_409_with_its_reason(
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    linked: dict[str, Any],
    ticket: dict[str, Any],
) -> None:
    slug = linked["slug"]
    pr = await open_pr(api, slug)
    fake_github.required_checks[WIDGETS.lower()] = ["test"]
    fake_github.ci(WIDGETS, pr["head_sha"], "test", "failure")
    refused = await api.post(f"/api/projects/{slug}/tickets/1/pull-request/merge", json={})
    error = assert_error(refused, 409)
    assert 'Required status check "test" is failing' in error["message"]
    assert error["reason"] == "github_refused" and error["github_status"] == 405
    assert (await api.get(f"/api/projects/{slug}/tickets/1")).json()["status"] != "done"


async def test_protected_projects_refuse_local_merges_and_discard_closes_the_pr(
    server: RunningServer,
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    linked: dict[str, Any],
    ticket: dict[str, Any],
) -> None:
    slug = linked["slug"]
    await open_pr(api, slug)
    await api.put(f"/api/projects/{slug}", json={"protected_main": True})
    error = assert_error(
        await api.post(f"/api/projects/{slug}/tickets/1/worktree/merge", json={}), 409
    )
    assert error["reason"] == "protected" and "codality pr merge 1" in error["message"]
    discarded = await api.post(
        f"/api/projects/{slug}/tickets/1/worktree/discard", json={"cancel": True}
    )
    assert discarded.status_code == 200, discarded.text
    assert discarded.json()["pull_request_closed"] == 1
    assert fake_github.pull(WIDGETS, 1).state == "closed"
    settle(server, fake_github)
    got = (await api.get(f"/api/projects/{slug}/tickets/1")).json()
    assert got["status"] == "cancelled" and got["pull_request"]["state"] == "closed"


async def test_a_run_a_dead_server_left_running_shows_on_its_pull_request(
    server: RunningServer,
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    linked: dict[str, Any],
    ticket: dict[str, Any],
    server_settings: ServerSettings,
) -> None:
    """A session found interrupted at start-up reaches every session-end subscriber, the pull
    request's too: ``codality/agent`` fails and the person who asked with a comment is told."""
    await open_pr(api, linked["slug"])
    settle(server, fake_github)
    owner = Owner.ticket(ticket["id"])
    services = server.app[SERVICES]
    channels = [ticket_channel(ticket["id"])]
    server.call(
        services.agent_sessions.create(owner, "ticket", channels, "comment", "m", "none", None)
    )
    server._stop.set()  # the server goes away with the session still marked running
    await eventually(lambda: _refused(server.url), what="the first server to stop")
    restarted, thread = start_server(server_settings)
    try:

        async def reported() -> list[CheckRun]:
            return [
                run
                for run in fake_github.check_runs.values()
                if run.name == "codality/agent" and run.conclusion == "failure"
            ]

        failed = await eventually(reported, what="codality/agent to report the interrupted run")
        assert failed[-1].title == "Agent run interrupted"

        async def answered() -> list[str]:
            said = fake_github.comments.get(WIDGETS.lower(), {}).get(1, [])
            return [c["body"] for c in said if "ended interrupted" in c["body"]]

        assert await eventually(answered, what="the comment's answer")
    finally:
        restarted._stop.set()
        thread.join(15)


async def _refused(url: str) -> bool:
    try:
        async with httpx.AsyncClient(base_url=url, timeout=1) as client:
            await client.get("/healthz")
    except httpx.TransportError:
        return True
    return False
