"""Webhooks: signatures, idempotency, the delivery log, and every row of docs §8.4."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from codality_server.http.keys import SERVICES
from codality_server.settings import ServerSettings
from tests.conftest import (
    RunningServer,
    bearer_client,
    create_ticket,
    git,
    start_server,
)
from tests.fakes.github_server import FakeGitHub
from tests.github_flow import (
    OWNER,
    TICKET_BRANCH,
    WIDGETS,
    connect,
    open_pr,
    settle,
)


@pytest.fixture
async def with_pr(
    server: RunningServer,
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    linked: dict[str, Any],
    ticket: dict[str, Any],
) -> dict[str, Any]:
    """Ticket #1 with work and an open PR #1; every webhook so far processed."""
    opened = await open_pr(api, linked["slug"])
    settle(server, fake_github)
    return opened


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_hook(
    server: RunningServer, body: bytes, event: str = "ping", delivery: str = "d-1", **headers: str
) -> httpx.Response:
    base = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "Content-Type": "application/json",
    }
    return httpx.post(
        f"{server.url}/api/github/webhooks", content=body, headers={**base, **headers}, timeout=60
    )


async def ticket_of(api: httpx.AsyncClient, slug: str, number: int = 1) -> dict[str, Any]:
    return dict((await api.get(f"/api/projects/{slug}/tickets/{number}")).json())


async def log(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    return list((await api.get("/api/github/webhooks/events?limit=500")).json())


async def test_signatures_are_checked_before_anything_is_stored(
    server: RunningServer, api: httpx.AsyncClient, fake_github: FakeGitHub
) -> None:
    body = json.dumps({"zen": "Keep it logically awesome."}).encode()
    # Before GitHub is configured there is no secret: refused.
    assert post_hook(server, body, **{"X-Hub-Signature-256": "sha256=00"}).status_code == 403
    await connect(api, fake_github)
    secret = next(iter(fake_github.apps.values())).webhook_secret
    before = len(await log(api))
    missing = post_hook(server, body)
    assert missing.status_code == 403 and missing.json()["error"]["code"] == "forbidden"
    wrong = post_hook(server, body, **{"X-Hub-Signature-256": sign("other", body)})
    assert wrong.status_code == 403
    sha1 = post_hook(server, body, **{"X-Hub-Signature-256": "sha1=" + "0" * 40})
    assert sha1.status_code == 403
    tampered = post_hook(server, body + b" ", **{"X-Hub-Signature-256": sign(secret, body)})
    assert tampered.status_code == 403
    assert len(await log(api)) == before
    ok = post_hook(server, body, delivery="ping-1", **{"X-Hub-Signature-256": sign(secret, body)})
    assert ok.status_code == 200 and ok.json()["status"] == "processed"
    assert (await log(api))[0]["result"] == "pong"


async def test_a_repeated_delivery_is_answered_and_skipped(
    server: RunningServer,
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    linked: dict[str, Any],
    with_pr: dict[str, Any],
) -> None:
    slug = linked["slug"]
    fake_github.close_pull(WIDGETS, 1)
    settle(server, fake_github)
    closed = next(
        d
        for d in fake_github.deliveries
        if d.event == "pull_request" and d.payload["action"] == "closed"
    )
    # Reopen the ticket by hand: a second processing would cancel it again.
    await api.patch(f"/api/projects/{slug}/tickets/1/status", json={"status": "in_review"})
    again = fake_github.redeliver(closed)
    settle(server, fake_github)
    assert again.status == 200 and json.loads(again.answer)["status"] == "skipped"
    assert (await ticket_of(api, slug))["status"] == "in_review"
    rows = [r for r in await log(api) if r["delivery_id"] == closed.id]
    assert sorted(r["status"] for r in rows) == ["processed", "skipped"]
    per_project = (await api.get(f"/api/projects/{slug}/github/webhooks/events")).json()
    assert any(r["delivery_id"] == closed.id for r in per_project)


async def test_bodies_up_to_25_mib_are_accepted(
    server: RunningServer, api: httpx.AsyncClient, fake_github: FakeGitHub
) -> None:
    await connect(api, fake_github)
    secret = next(iter(fake_github.apps.values())).webhook_secret
    big = json.dumps({"action": "x", "padding": "a" * (24 * 1024 * 1024)}).encode()
    ok = post_hook(
        server, big, "check_suite", "big-1", **{"X-Hub-Signature-256": sign(secret, big)}
    )
    assert ok.status_code == 200, ok.text
    too_big = b'{"a": "' + b"a" * (25 * 1024 * 1024) + b'"}'
    refused = post_hook(
        server, too_big, "check_suite", "big-2", **{"X-Hub-Signature-256": sign(secret, too_big)}
    )
    assert refused.status_code == 413


async def test_merged_pr_finishes_the_ticket(
    server: RunningServer,
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    linked: dict[str, Any],
    with_pr: dict[str, Any],
    git_repo: Path,
    tmp_path: Path,
) -> None:
    sha = fake_github.merge_pull(WIDGETS, 1, by="alice")
    settle(server, fake_github)
    ticket = await ticket_of(api, linked["slug"])
    assert ticket["status"] == "done" and ticket["worktree_path"] is None
    assert not (tmp_path / "wt").exists()
    assert git(git_repo, "rev-parse", "main").strip() == sha
    assert TICKET_BRANCH not in git(git_repo, "branch", "--list")
    row = next(
        r for r in await log(api) if r["event"] == "pull_request" and r["action"] == "closed"
    )
    assert row["status"] == "processed" and "done" in row["result"]


async def test_closed_pr_cancels_the_ticket(
    server: RunningServer,
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    linked: dict[str, Any],
    with_pr: dict[str, Any],
) -> None:
    fake_github.close_pull(WIDGETS, 1)
    settle(server, fake_github)
    ticket = await ticket_of(api, linked["slug"])
    assert ticket["status"] == "cancelled" and ticket["pull_request"]["state"] == "closed"


async def test_push_to_default_syncs_and_rebases_open_worktrees(
    server: RunningServer,
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    linked: dict[str, Any],
    with_pr: dict[str, Any],
    git_repo: Path,
    tmp_path: Path,
) -> None:
    slug = linked["slug"]
    # A second ticket whose work will conflict with the push.
    second = await create_ticket(api, slug, title="Conflicting")
    other = tmp_path / "wt2"
    git(git_repo, "worktree", "add", "-q", "-b", "codality/2-conflicting", str(other), "main")
    (other / "README.md").write_text("# Mine\n")
    git(other, "commit", "-qam", "mine")
    from codality_server.http.keys import SERVICES

    server.call(
        server.app[SERVICES].tickets.set_worktree(
            second["id"], "codality/2-conflicting", str(other)
        )
    )
    before_second = git(other, "rev-parse", "HEAD").strip()
    pushed = fake_github.push_commit(
        WIDGETS, "main", {"README.md": "# Theirs\n", "NEW.md": "new\n"}
    )
    settle(server, fake_github)
    # Local main follows GitHub, and the checkout got the files.
    assert git(git_repo, "rev-parse", "main").strip() == pushed
    assert (git_repo / "NEW.md").read_text() == "new\n"
    # Ticket 1's worktree was rebased onto it; ticket 2's conflicts: left as it was + a comment.
    wt = tmp_path / "wt"
    assert git(wt, "merge-base", "--is-ancestor", pushed, "HEAD") == ""
    assert (wt / "NEW.md").exists() and git(wt, "status", "--porcelain") == ""
    assert git(other, "rev-parse", "HEAD").strip() == before_second
    assert git(other, "status", "--porcelain") == ""
    comments = (await api.get(f"/api/projects/{slug}/tickets/2/comments")).json()
    assert any("README.md" in c["body"] and "left as it was" in c["body"] for c in comments)
    row = next(r for r in await log(api) if r["event"] == "push" and "main" in r["result"])
    assert "1 worktree(s) rebased" in row["result"] and "#2" in row["result"]


async def test_push_to_another_branch_is_logged_and_ignored(
    server: RunningServer,
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    linked: dict[str, Any],
    git_repo: Path,
) -> None:
    git(fake_github.repo(WIDGETS).path, "branch", "feature", "main")
    fake_github.push_commit(WIDGETS, "feature", {"x.txt": "x\n"})
    settle(server, fake_github)
    row = next(r for r in await log(api) if r["event"] == "push")
    assert row["status"] == "ignored" and "refs/heads/feature" in row["result"]


async def test_check_runs_update_the_pr_and_the_card(
    server: RunningServer,
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    linked: dict[str, Any],
    with_pr: dict[str, Any],
) -> None:
    events: list[Any] = []

    def collect() -> None:
        from codality_server.http.keys import BUS

        events.extend(e for e in server.app[BUS]._ring if e.type == "pr:updated")

    run = fake_github.ci(WIDGETS, with_pr["head_sha"], "test")
    settle(server, fake_github)
    card = (await ticket_of(api, linked["slug"]))["pull_request"]
    assert card["checks"] == {"passed": 0, "failed": 0, "pending": 1}
    fake_github.ci_finish(run, "failure")
    settle(server, fake_github)
    card = (await ticket_of(api, linked["slug"]))["pull_request"]
    assert card["checks"] == {"passed": 0, "failed": 1, "pending": 0}
    collect()
    assert any((e.data["check"] or {}).get("name") == "test" for e in events)
    fake_github.run(_suite(fake_github))
    settle(server, fake_github)
    suite = next(r for r in await log(api) if r["event"] == "check_suite")
    assert suite["status"] == "processed"


async def _suite(fake: FakeGitHub) -> None:
    fake._send(
        "check_suite",
        fake.repo(WIDGETS),
        {"action": "completed", "check_suite": {"conclusion": "failure"}},
    )


async def test_slash_commands_and_ordinary_comments(
    server: RunningServer,
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    linked: dict[str, Any],
    with_pr: dict[str, Any],
) -> None:
    from codality_server.http.keys import SERVICES

    pulls = server.app[SERVICES].pull_requests
    pr = server.call(pulls.find(with_pr["ticket_id"]))
    server.call(pulls.set_retry_count(pr, 2))
    fake_github.comment(WIDGETS, 1, "alice", "/codality status")
    settle(server, fake_github)
    replies = fake_github.bot_comments(WIDGETS, 1)
    assert "CI auto-fix attempts: 2/3" in replies[-1] and "Ticket:" in replies[-1]
    fake_github.comment(WIDGETS, 1, "alice", "/codality retry\nflaky runner")
    settle(server, fake_github)
    assert "counter reset" in fake_github.bot_comments(WIDGETS, 1)[-1]
    assert server.call(pulls.find(with_pr["ticket_id"])).auto_retry_count == 0
    fake_github.comment(WIDGETS, 1, "alice", "/codality dance")
    settle(server, fake_github)
    reply = fake_github.bot_comments(WIDGETS, 1)[-1]
    assert "Unknown command `/codality dance`" in reply
    assert "/codality retry" in reply and "/codality status" in reply
    # An ordinary human comment is stored and resets the counter; a bot's is ignored.
    server.call(pulls.set_retry_count(server.call(pulls.find(with_pr["ticket_id"])), 3))
    fake_github.comment(WIDGETS, 1, "dependabot[bot]", "Bump!")
    settle(server, fake_github)
    assert server.call(pulls.find(with_pr["ticket_id"])).auto_retry_count == 3
    fake_github.comment(WIDGETS, 1, "alice", "Please keep hello.")
    settle(server, fake_github)
    assert server.call(pulls.find(with_pr["ticket_id"])).auto_retry_count == 0
    rows = await log(api)
    bot_row = next(r for r in rows if r["event"] == "issue_comment" and "[bot]" in r["result"])
    assert bot_row["status"] == "ignored"
    # Our own replies come back as webhooks from "…[bot]" and are ignored too (no loop).
    assert sum(1 for r in rows if r["event"] == "issue_comment") == 5 + 3


async def test_reviews_set_the_review_state(
    server: RunningServer,
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    linked: dict[str, Any],
    with_pr: dict[str, Any],
) -> None:
    from codality_server.http.keys import SERVICES

    pulls = server.app[SERVICES].pull_requests
    server.call(pulls.set_retry_count(server.call(pulls.find(with_pr["ticket_id"])), 3))
    fake_github.review(WIDGETS, 1, "bob", "commented", "Hmm.")
    settle(server, fake_github)
    assert (await ticket_of(api, linked["slug"]))["pull_request"]["review_state"] == "pending"
    fake_github.review(WIDGETS, 1, "bob", "changes_requested", "Please rename.")
    settle(server, fake_github)
    card = (await ticket_of(api, linked["slug"]))["pull_request"]
    assert card["review_state"] == "changes_requested"
    assert server.call(pulls.find(with_pr["ticket_id"])).auto_retry_count == 0


async def test_events_for_unlinked_repositories_are_logged_and_ignored(
    server: RunningServer,
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
) -> None:
    await connect(api, fake_github)
    fake_github.create_repo(OWNER, "elsewhere")
    fake_github.push_commit(f"{OWNER}/elsewhere", "main", {"a": "b"})
    settle(server, fake_github)
    row = (await log(api))[0]
    assert row["status"] == "ignored" and "no project is linked" in row["result"]


async def test_a_delivery_waiting_at_a_stop_runs_at_the_next_start(
    server: RunningServer,
    server_settings: ServerSettings,
    admin_token: str,
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    linked: dict[str, Any],
    with_pr: dict[str, Any],
    git_repo: Path,
) -> None:
    """Answered but not yet worked on (the repository was busy) when the server stopped: the
    body was kept, so the next start does the work."""
    webhooks = server.app[SERVICES].webhooks
    server.call(webhooks.repository_lock(WIDGETS).acquire())  # the repository's turn is taken
    sha = fake_github.merge_pull(WIDGETS, 1, by="alice")
    fake_github.wait_deliveries()
    closed = [r for r in await log(api) if r["action"] == "closed"]
    assert [r["status"] for r in closed] == ["received"]
    server._stop.set()
    while not (server.loop and server.loop.is_closed()):
        time.sleep(0.05)

    again, thread = start_server(server_settings)
    try:
        again.call(again.app[SERVICES].webhooks.idle())
        async with bearer_client(again.url, admin_token) as client:
            ticket = await ticket_of(client, linked["slug"])
            rows = [r for r in await log(client) if r["action"] == "closed"]
        assert ticket["status"] == "done"
        assert git(git_repo, "rev-parse", "main").strip() == sha
        assert [r["status"] for r in rows] == ["processed"] and "done" in rows[0]["result"]
    finally:
        again._stop.set()
        thread.join(15)
