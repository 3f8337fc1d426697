"""Diff, merge and discard over HTTP against real repositories, checked with the real ``git``."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from codality_server.http.keys import SERVICES
from tests.agent.conftest import wait_for_end
from tests.conftest import (
    FRIENDLIER_GREET,
    RunningServer,
    assert_error,
    attach_work,
    create_ticket,
    git,
    stack_work,
)
from tests.fakes.anthropic_server import FakeAnthropic, text


async def ticket_with_work(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any], tmp_path: Path
) -> dict[str, Any]:
    """A ticket whose worktree (made with the git CLI) has one commit and one uncommitted edit."""
    ticket = await create_ticket(api, project["slug"], title="Friendlier greeting")
    branch = f"codality/{ticket['number']}-friendlier-greeting"
    worktree = tmp_path / "worktrees" / str(ticket["number"])
    updated = attach_work(server, ticket, Path(project["path"]), worktree, branch)
    return {**ticket, "branch": updated.branch, "worktree_path": updated.worktree_path}


def url(project: dict[str, Any], ticket: dict[str, Any], suffix: str) -> str:
    return f"/api/projects/{project['slug']}/tickets/{ticket['number']}/{suffix}"


def assert_clean_repository(repo: Path) -> None:
    subprocess.run(["git", "fsck", "--strict"], cwd=repo, check=True, capture_output=True)
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert not (repo / ".git" / "MERGE_HEAD").exists()


@pytest.fixture
async def ticket(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any], tmp_path: Path
) -> dict[str, Any]:
    return await ticket_with_work(server, api, project, tmp_path)


async def test_diff_and_stats_with_and_without_uncommitted_work(
    api: httpx.AsyncClient, project: dict[str, Any], ticket: dict[str, Any]
) -> None:
    live = (await api.get(url(project, ticket, "diff"))).json()
    committed = (await api.get(url(project, ticket, "diff?committed=1"))).json()
    assert live["uncommitted"] is True and committed["uncommitted"] is False
    assert "+uncommitted notes" in live["diff"] and "notes.md" not in committed["diff"]
    assert "+    return f'hi {name}!'" in committed["diff"]
    assert live["base"] == git(Path(project["path"]), "rev-parse", "main").strip()

    stats = (await api.get(url(project, ticket, "diff/stats"))).json()
    assert stats["files_changed"] == 2
    assert stats["insertions"] == 2 and stats["deletions"] == 1
    assert {f["path"]: f["status"] for f in stats["files"]} == {
        "notes.md": "added",
        "src/app.py": "modified",
    }
    only_committed = (await api.get(url(project, ticket, "diff/stats?committed=true"))).json()
    assert only_committed["files_changed"] == 1
    assert_error(await api.get(url(project, ticket, "diff?committed=maybe")), 400)
    assert_error(await api.get(url(project, ticket, "diff?colour=1")), 400)


async def test_a_ticket_without_work_has_no_diff_and_refuses_review_merge_discard(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    idle = await create_ticket(api, project["slug"], title="Idle")
    assert_error(await api.get(url(project, idle, "diff")), 404)
    assert_error(await api.get(url(project, idle, "merge-diff")), 404)
    for action, body in (
        ("worktree/merge", {}),
        ("worktree/discard", {}),
        ("reviews", {"state": "approved"}),
        ("reviews", {"state": "commented", "body": "looks fine"}),
    ):
        refused = assert_error(await api.post(url(project, idle, action), json=body), 409)
        assert refused["reason"] == "no_work"
    assert (await api.get(url(project, idle, "reviews"))).json() == []
    shown = (await api.get(f"/api/projects/{project['slug']}/tickets/{idle['number']}")).json()
    assert shown["status"] == idle["status"]


async def test_a_branch_without_changes_is_merged_only_with_force(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any], tmp_path: Path
) -> None:
    repo = Path(project["path"])
    ticket = await create_ticket(api, project["slug"], title="Nothing done", status="in_progress")
    worktree = tmp_path / "worktrees" / "empty"
    git(repo, "worktree", "add", "-q", "-b", "codality/empty", str(worktree), "main")
    git(worktree, "commit", "-q", "--allow-empty", "-m", "an empty commit")
    tickets = server.app[SERVICES].tickets
    server.call(tickets.set_worktree(ticket["id"], "codality/empty", str(worktree)))
    before = git(repo, "rev-parse", "main")

    refused = assert_error(await api.post(url(project, ticket, "worktree/merge"), json={}), 409)
    assert refused["reason"] == "no_changes"
    assert git(repo, "rev-parse", "main") == before
    kept = (await api.get(f"/api/projects/{project['slug']}/tickets/{ticket['number']}")).json()
    assert (kept["status"], kept["branch"]) == ("in_progress", "codality/empty")

    forced = await api.post(url(project, ticket, "worktree/merge"), json={"force": True})
    assert forced.status_code == 200, forced.text
    assert forced.json()["ticket"]["status"] == "done"


async def test_merge_commits_pending_work_merges_and_cleans_up(
    api: httpx.AsyncClient, project: dict[str, Any], ticket: dict[str, Any]
) -> None:
    repo = Path(project["path"])
    before = git(repo, "rev-parse", "main").strip()

    response = await api.post(url(project, ticket, "worktree/merge"), json={})

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["ticket"]["status"] == "done"
    assert result["ticket"]["branch"] is None and result["ticket"]["worktree_path"] is None
    assert result["merge"]["kind"] == "fast_forward" and result["merge"]["before"] == before
    assert result["push"]["state"] == "no_remote" and result["push"]["pushed"] is False
    assert result["push"]["retry"] is None
    assert (repo / "notes.md").read_text() == "uncommitted notes\n"  # committed, then merged
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "branch", "--list", "codality/*") == ""
    assert not Path(ticket["worktree_path"]).exists()
    assert_clean_repository(repo)

    merged = (await api.get(url(project, ticket, "merge-diff"))).json()
    assert merged["merged_sha"] == git(repo, "rev-parse", "main").strip()
    assert "+uncommitted notes" in merged["diff"] and merged["strategy"] == "merge"
    assert merged["not_shown"] == []  # every file's text kept
    stats = (await api.get(url(project, ticket, "merge-diff/stats"))).json()
    assert stats["files_changed"] == 2 and stats["merged_sha"] == merged["merged_sha"]
    # The branch is gone, so the live diff is too; the merge diff keeps answering.
    assert_error(await api.get(url(project, ticket, "diff")), 404)


async def test_squash_merge_makes_one_commit(
    api: httpx.AsyncClient, project: dict[str, Any], ticket: dict[str, Any]
) -> None:
    repo = Path(project["path"])
    before = git(repo, "rev-parse", "main").strip()
    response = await api.post(url(project, ticket, "worktree/merge"), json={"strategy": "squash"})
    assert response.status_code == 200, response.text
    assert response.json()["merge"]["kind"] == "squash"
    assert git(repo, "rev-list", "--parents", "-n1", "main").split()[1:] == [before]
    assert (
        git(repo, "log", "-1", "--format=%s", "main").strip() == "Friendlier greeting [codality-1]"
    )
    assert_clean_repository(repo)


async def test_merge_commits_name_the_ticket_as_its_pull_request_does(
    api: httpx.AsyncClient, project: dict[str, Any], ticket: dict[str, Any]
) -> None:
    """``#1`` in a subject is GitHub's issue or PR 1 once pushed: every commit a merge writes
    names the ticket ``[codality-1]``, as its PR title does."""
    repo = Path(project["path"])
    (repo / "README.md").write_text("# Sample\n\nmain moved on\n")
    git(repo, "commit", "-q", "-am", "main moves on")
    response = await api.post(url(project, ticket, "worktree/merge"), json={"strategy": "merge"})
    assert response.status_code == 200, response.text
    assert response.json()["merge"]["kind"] == "merge_commit"
    subjects = [git(repo, "log", "-1", "--format=%s", rev).strip() for rev in ("main", "main^2")]
    assert subjects == [
        f"Merge {ticket['branch']}: Friendlier greeting [codality-1]",
        "Friendlier greeting [codality-1]: uncommitted work, committed for the merge",
    ]


def test_a_long_title_is_shortened_in_a_subject_and_keeps_its_key() -> None:
    from codality_server.domain.work_names import work_subject

    subject = work_subject("x" * 100, 12, 72)
    assert len(subject) == 72 and subject.endswith("x… [codality-12]")
    assert work_subject(" Short ", 3, 72) == "Short [codality-3]"


async def test_a_stack_merge_that_stops_partway_keeps_what_merged_and_says_why(
    server: RunningServer,
    api: httpx.AsyncClient,
    project: dict[str, Any],
    ticket: dict[str, Any],
    tmp_path: Path,
) -> None:
    """#2 is stacked on #1; main has a farewell.txt of its own, which #2's clashes with. The
    merge of #2 merges #1, then stops: #1 done and pushed, #2 untouched and told why, main as
    #1 left it, and the repository free for the next merge."""
    repo = Path(project["path"])
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    second = await create_ticket(api, project["slug"], title="Say goodbye")
    worktree = tmp_path / "worktrees" / "2"
    stack_work(
        server, repo, ticket, second, worktree, "codality/2-say-goodbye", {"farewell.txt": "bye\n"}
    )
    for each in (ticket, second):
        moved = await api.patch(url(project, each, "status"), json={"status": "in_review"})
        assert moved.status_code == 200, moved.text
    (repo / "farewell.txt").write_text("see you\n")
    git(repo, "add", "farewell.txt")
    git(repo, "commit", "-q", "-m", "main says farewell its own way")

    error = assert_error(await api.post(url(project, second, "worktree/merge"), json={}), 409)
    assert (error["reason"], error["conflicts"], error["merged"]) == (
        "merge_conflict",
        ["farewell.txt"],
        [1],
    )
    assert error["message"].startswith("merged #1 (pushed main to origin); #2 did not merge: ")

    # #1: done, merged into main and pushed, its diff kept, its branch and worktree gone.
    first = (await api.get(f"/api/projects/{project['slug']}/tickets/1")).json()
    assert (first["status"], first["branch"], first["push"]["pushed"]) == ("done", None, True)
    assert git(repo, "show", "main:src/app.py") == FRIENDLIER_GREET
    main = git(repo, "rev-parse", "main").strip()
    assert git(origin, "rev-parse", "main").strip() == main
    kept = (await api.get(url(project, ticket, "merge-diff"))).json()
    assert kept["merged_sha"] == main
    # Nothing of #2 on main, no merge left half-done, a clean checkout.
    assert git(repo, "show", "main:farewell.txt") == "see you\n"
    assert not (repo / ".git" / "MERGE_HEAD").exists()
    assert git(repo, "status", "--porcelain") == ""
    subprocess.run(["git", "fsck", "--strict"], cwd=repo, check=True, capture_output=True)
    # #2: in review with its work, no longer shown stacked on merged work, and told why.
    shown = (await api.get(f"/api/projects/{project['slug']}/tickets/2")).json()
    assert (shown["status"], shown["branch"]) == ("in_review", "codality/2-say-goodbye")
    assert shown["stacked_on"] is None and (worktree / "farewell.txt").read_text() == "bye\n"
    notes = (await api.get(url(project, second, "comments"))).json()
    assert len(notes) == 1 and "Merging the stack stopped here: merged #1" in notes[0]["body"]
    assert "(farewell.txt)" in notes[0]["body"]
    assert "`codality ticket merge 2`" in notes[0]["body"]

    # The repository is free: #2, resolved, merges on its own.
    (worktree / "farewell.txt").write_text("see you\n")
    git(worktree, "commit", "-q", "-am", "farewell as main has it")
    (worktree / "bye.txt").write_text("bye\n")
    git(worktree, "add", "bye.txt")
    git(worktree, "commit", "-q", "-m", "bye")
    done = await api.post(url(project, second, "worktree/merge"), json={})
    assert done.status_code == 200, done.text
    assert [m["number"] for m in done.json()["merged"]] == [2]
    assert git(repo, "show", "main:bye.txt") == "bye\n"


async def test_merge_refuses_a_bad_strategy(
    api: httpx.AsyncClient, project: dict[str, Any], ticket: dict[str, Any]
) -> None:
    error = assert_error(
        await api.post(url(project, ticket, "worktree/merge"), json={"strategy": "rebase"}), 400
    )
    assert error["field"] == "strategy"


async def test_conflicting_merge_is_409_and_changes_nothing(
    api: httpx.AsyncClient, project: dict[str, Any], ticket: dict[str, Any]
) -> None:
    repo = Path(project["path"])
    (repo / "src" / "app.py").write_text("def greet(name):\n    return f'hey {name}'\n")
    git(repo, "commit", "-q", "-am", "main edits the same line")
    before = git(repo, "rev-parse", "main").strip()

    error = assert_error(await api.post(url(project, ticket, "worktree/merge")), 409, "conflict")

    assert error["conflicts"] == ["src/app.py"] and error["reason"] == "merge_conflict"
    assert git(repo, "rev-parse", "main").strip() == before
    assert git(repo, "status", "--porcelain") == ""
    assert not (repo / ".git" / "MERGE_HEAD").exists()
    assert Path(ticket["worktree_path"]).is_dir()
    shown = (await api.get(f"/api/projects/{project['slug']}/tickets/{ticket['number']}")).json()
    assert shown["status"] == "backlog" and shown["branch"] == ticket["branch"]
    subprocess.run(["git", "fsck"], cwd=repo, check=True, capture_output=True)


async def test_overlapping_local_edits_refuse_the_merge_unrelated_ones_do_not(
    api: httpx.AsyncClient, project: dict[str, Any], ticket: dict[str, Any]
) -> None:
    repo = Path(project["path"])
    (repo / "src" / "app.py").write_text("def greet(name):\n    return 'my local work'\n")
    error = assert_error(await api.post(url(project, ticket, "worktree/merge")), 409)
    assert error["reason"] == "local_changes" and error["conflicts"] == ["src/app.py"]
    assert (repo / "src" / "app.py").read_text() == "def greet(name):\n    return 'my local work'\n"

    git(repo, "checkout", "--", "src/app.py")
    (repo / "README.md").write_text("# Sample\n\nlocal, unrelated\n")
    response = await api.post(url(project, ticket, "worktree/merge"))
    assert response.status_code == 200, response.text
    assert (repo / "README.md").read_text() == "# Sample\n\nlocal, unrelated\n"
    assert git(repo, "status", "--porcelain") == " M README.md\n"


async def test_merge_pushes_to_a_bare_origin(
    api: httpx.AsyncClient, project: dict[str, Any], ticket: dict[str, Any], tmp_path: Path
) -> None:
    repo = Path(project["path"])
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(origin))
    git(repo, "remote", "add", "origin", str(origin))

    result = (await api.post(url(project, ticket, "worktree/merge"))).json()

    assert result["push"]["pushed"] is True and result["push"]["state"] == "pushed"
    assert result["push"]["retry"] is None and result["ticket"]["push"] == result["push"]
    assert git(origin, "rev-parse", "main") == git(repo, "rev-parse", "main")


async def test_push_after_merge_off_keeps_the_merge_local(
    api: httpx.AsyncClient, project: dict[str, Any], ticket: dict[str, Any], tmp_path: Path
) -> None:
    repo = Path(project["path"])
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    assert (await api.put("/api/settings", json={"push_after_merge": False})).status_code == 200

    result = (await api.post(url(project, ticket, "worktree/merge"))).json()

    assert result["push"]["pushed"] is False and result["push"]["state"] == "not_pushed"
    assert result["push"]["detail"] == "the push_after_merge setting is off"
    assert git(origin, "rev-parse", "main") != git(repo, "rev-parse", "main")


@pytest.mark.parametrize(("cancel", "status"), [(False, "backlog"), (True, "cancelled")])
async def test_discard_keeps_the_work_under_a_ref(
    api: httpx.AsyncClient,
    project: dict[str, Any],
    ticket: dict[str, Any],
    cancel: bool,
    status: str,
) -> None:
    repo = Path(project["path"])
    response = await api.post(url(project, ticket, "worktree/discard"), json={"cancel": cancel})

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["ticket"]["status"] == status and result["ticket"]["branch"] is None
    assert result["kept_ref"].startswith(f"refs/codality/discarded/{ticket['number']}-")
    assert git(repo, "rev-parse", result["kept_ref"]).strip() == result["kept_sha"]
    # The uncommitted notes were committed onto the kept ref: nothing is lost.
    assert git(repo, "show", f"{result['kept_ref']}:notes.md") == "uncommitted notes\n"
    assert "hi {name}!" in git(repo, "show", f"{result['kept_ref']}:src/app.py")
    assert git(repo, "branch", "--list", "codality/*") == ""
    assert not Path(ticket["worktree_path"]).exists()
    assert git(repo, "status", "--porcelain") == ""
    assert_clean_repository(repo)
    # Recovery: a branch made from the kept ref has the work back.
    git(repo, "branch", "recovered", result["kept_ref"])
    assert git(repo, "show", "recovered:notes.md") == "uncommitted notes\n"
    assert_error(await api.post(url(project, ticket, "worktree/discard")), 409)


@asynccontextmanager
async def repository_busy(server: RunningServer, repo: str) -> AsyncIterator[Any]:
    """Hold the repository's lock (as other git work would) while the body queues requests;
    yields ``queued(n)``, which waits until ``n`` requests are waiting for it."""
    lock = server.app[SERVICES].repo_lock(repo)

    async def waiting() -> int:
        return len(getattr(lock, "_waiters", None) or ())

    async def queued(count: int) -> None:
        async with asyncio.timeout(10):
            while server.call(waiting()) < count:
                await asyncio.sleep(0.01)

    async def release() -> None:
        lock.release()

    server.call(lock.acquire())
    try:
        yield queued
    finally:
        server.call(release())


async def test_a_start_that_waited_for_the_repository_rechecks_the_ticket(
    server: RunningServer,
    agent_api: httpx.AsyncClient,
    project: dict[str, Any],
    ticket: dict[str, Any],
) -> None:
    """A start answers at once; its run, queued behind other git work (a merge, say), sees the
    ticket as it is afterwards: closed meanwhile, the run ends saying why."""
    async with repository_busy(server, project["path"]) as queued:
        started = await agent_api.post(url(project, ticket, "agent/start"))
        assert started.status_code == 202, started.text
        await queued(1)  # the run's first step waits for the repository
        done = await agent_api.patch(url(project, ticket, "status"), json={"status": "done"})
        assert done.status_code == 200
    session = await wait_for_end(agent_api, project, ticket)
    assert session["status"] == "failed"
    # The refusal in the user's words, not an internal error.
    assert session["error"].startswith(f"ticket #{ticket['number']} is done"), session["error"]
    assert "codality ticket reopen" in session["error"]
    shown = await agent_api.get(f"/api/projects/{project['slug']}/tickets/{ticket['number']}")
    assert shown.json()["status"] == "done"


async def test_a_merge_waiting_behind_an_agent_start_is_refused(
    server: RunningServer,
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    ticket: dict[str, Any],
) -> None:
    fake_anthropic.script(text("Looked; nothing to change."))
    async with repository_busy(server, project["path"]) as queued:
        starting = asyncio.create_task(agent_api.post(url(project, ticket, "agent/start")))
        await queued(1)
        merging = asyncio.create_task(agent_api.post(url(project, ticket, "worktree/merge")))
        await queued(2)
    started, merged = await starting, await merging
    assert started.status_code == 202, started.text
    error = assert_error(merged, 409)
    assert error["reason"] == "agent_running"
