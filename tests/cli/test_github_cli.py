"""``codality github …`` and ``codality pr …`` against the real server and the fake GitHub."""

from __future__ import annotations

import asyncio
import json
import re
import stat
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.conftest import Cli, codality
from tests.conftest import attach_work, bearer_client, git, stack_work
from tests.fakes.github_server import FakeGitHub
from tests.github_flow import (
    OWNER,
    STACKED_BRANCH,
    TICKET_BRANCH,
    WIDGETS,
    connect,
    linked_project,
    point_at,
    settle,
)

BROWSER = Path(__file__).resolve().parents[1] / "fakes" / "browser.py"


def on_server(cli: Cli, work: Any) -> Any:
    """Run an async step (``work(api)``) with the admin's API client."""

    async def run() -> Any:
        async with bearer_client(cli.server.url, str(cli.token)) as api:
            return await work(api)

    return asyncio.run(run())


@pytest.fixture
def linked(cli: Cli, fake_github: FakeGitHub, git_repo: Path) -> dict[str, Any]:
    async def setup(api: httpx.AsyncClient) -> dict[str, Any]:
        await connect(api, fake_github)
        return await linked_project(api, fake_github, git_repo)

    return dict(on_server(cli, setup))


def test_connect_opens_the_browser_and_waits(
    cli: Cli, fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_server(cli, lambda api: point_at(api, fake_github))
    browser = tmp_path / "browser"
    browser.write_text(
        f"#!{sys.executable}\nimport runpy\nrunpy.run_path({str(BROWSER)!r}, run_name='__main__')\n"
    )
    browser.chmod(browser.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("BROWSER", str(browser))
    monkeypatch.setenv("CODALITY_TOKEN", str(cli.token))
    done = codality("--server", cli.server.url, "github", "connect", "--timeout", "30")
    assert done.returncode == 0, done.stderr
    assert "Create the GitHub App: http" in done.stderr
    assert f"installed on {OWNER}" in done.stderr
    status = codality("--server", cli.server.url, "github", "status")
    assert "Private key:    ✓ configured" in status.stdout
    assert "✓ installed (id" in status.stdout and OWNER in status.stdout
    as_json = json.loads(codality("--server", cli.server.url, "github", "status", "--json").stdout)
    assert as_json["installation"]["account"] == OWNER
    app = next(iter(fake_github.apps.values()))
    assert app.pem.splitlines()[1] not in status.stdout + json.dumps(as_json)


def test_connect_without_a_browser_prints_the_url_and_times_out(
    cli: Cli, fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_server(cli, lambda api: point_at(api, fake_github))
    monkeypatch.setenv("BROWSER", "/nonexistent/browser")
    monkeypatch.setenv("CODALITY_TOKEN", str(cli.token))
    done = codality("--server", cli.server.url, "github", "connect", "--timeout", "1")
    assert done.returncode == 1
    assert "/api/github/app/manifest/form?state=" in done.stderr
    assert "timed out waiting for the App to be created" in done.stderr


def test_repos_detect_link_unlink_and_events(
    cli: Cli, fake_github: FakeGitHub, linked: dict[str, Any], git_repo: Path
) -> None:
    p = ("-p", linked["slug"])
    repos = cli("github", "repos")
    assert repos.exit_code == 0 and repos.stdout.startswith(f"{WIDGETS}\ttrue\tmain\t")
    created = cli("github", "create-repo", "gadgets", "--json")
    assert created.exit_code == 0, created.stderr
    assert created.json()["full_name"] == f"{OWNER}/gadgets"
    detected = cli(*p, "github", "detect-remote")
    assert detected.stdout == f"{WIDGETS}\n"
    ssh = cli("github", "detect-remote", "--url", "git@github.com:acme/x.git", "--json").json()
    assert ssh["full_name"] == "acme/x"
    refused = cli(*p, "github", "unlink")
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert cli(*p, "github", "unlink", "--yes").exit_code == 0
    relinked = cli(*p, "github", "link", WIDGETS)
    assert relinked.exit_code == 0 and f"linked {linked['slug']} to {WIDGETS}" in relinked.stderr
    bad = cli(*p, "github", "link", "nope")
    assert bad.exit_code == 2 and "OWNER/REPO" in bad.stderr
    fake_github.push_commit(WIDGETS, "main", {"x.txt": "x\n"})
    settle(cli.server, fake_github)
    events = cli(*p, "github", "events", "--json").json()
    assert events and events[0]["event"] == "push"
    assert "push" in cli("github", "events").stdout


def test_pr_commands(
    cli: Cli, fake_github: FakeGitHub, linked: dict[str, Any], git_repo: Path, tmp_path: Path
) -> None:
    p = ("-p", linked["slug"])
    ticket = cli(*p, "ticket", "create", "Friendlier greeting", "-d", "", "--json").json()
    attach_work(cli.server, ticket, git_repo, tmp_path / "wt", "codality/1-friendlier-greeting")
    opened = cli(*p, "pr", "create", "1")
    assert opened.exit_code == 0, opened.stderr
    assert "opened pull request #1 for #1 into main: " in opened.stderr
    head = fake_github.pull(WIDGETS, 1).head_sha
    fake_github.ci(WIDGETS, head, "test", "success")
    fake_github.ci(WIDGETS, head, "lint", "failure")
    fake_github.ci(WIDGETS, head, "build")
    fake_github.review(WIDGETS, 1, "alice", "changes_requested", "Keep hello.")
    settle(cli.server, fake_github)
    status = cli(*p, "pr", "status", "1")
    assert status.exit_code == 0, status.stderr
    assert "checks: ✓ 1 passed, ✗ 1 failed, ● 1 pending" in status.stdout
    for line in ("  ✓ test", "  ✗ lint", "  ● build", "review: changes requested"):
        assert line in status.stdout
    assert cli(*p, "pr", "status", "1", "--json").json()["counts"]["failed"] == 1
    listed = cli(*p, "pr", "list")
    assert listed.stdout.startswith("1\t1\topen\t✓1 ✗1 ●1\tchanges_requested\t")
    assert cli(*p, "pr", "show", "1", "--json").json()["number"] == 1
    fake_github.comment(WIDGETS, 1, "bob", "Nice work")
    settle(cli.server, fake_github)
    comments = cli(*p, "pr", "comments", "1")
    assert "issue\tbob\t" in comments.stdout and "review\talice\t" in comments.stdout
    (tmp_path / "wt" / "more.txt").write_text("more\n")
    updated = cli(*p, "pr", "update", "1", "--json")
    assert updated.exit_code == 0 and updated.json()["head_sha"] != head
    # GitHub refuses: exit 6 with GitHub's reason.
    fake_github.required_checks[WIDGETS.lower()] = ["test"]
    refused = cli(*p, "pr", "merge", "1")
    assert refused.exit_code == 6
    assert 'Required status check "test" is expected' in refused.stderr
    fake_github.required_checks.clear()
    merged = cli(*p, "pr", "merge", "1", "--method", "squash")
    assert merged.exit_code == 0, merged.stderr
    assert "merged pull request #1 (squash" in merged.stderr
    assert cli(*p, "ticket", "show", "1", "--json").json()["status"] == "done"
    assert cli(*p, "pr", "show", "2").exit_code == 3
    bad = cli(*p, "pr", "merge", "1", "--method", "octopus")
    assert bad.exit_code == 2
    settle(cli.server, fake_github)
    assert (
        git(git_repo, "log", "-1", "--format=%s", "main").strip()
        == "Friendlier greeting [codality-1] (#1)"
    )


def test_a_pr_title_names_its_ticket_without_a_github_reference(
    cli: Cli, fake_github: FakeGitHub, linked: dict[str, Any], git_repo: Path, tmp_path: Path
) -> None:
    """``#N`` in a PR is GitHub's own issue or PR N, and a squash merge adds ``(#PR)``: the
    ticket is named ``codality-N``, so the only ``#`` left in the merged subject is GitHub's."""
    p = ("-p", linked["slug"])
    env = {"CODALITY_TOKEN": str(cli.token)}
    for title in ("First, to take number 1", "add() subtracts"):
        filed = codality(
            "--server", cli.server.url, *p, "ticket", "create", title, "-d", "x", env=env
        )
        assert filed.returncode == 0, filed.stderr
    ticket = cli(*p, "ticket", "show", "2", "--json").json()
    attach_work(cli.server, ticket, git_repo, tmp_path / "wt", "codality/2-add-subtracts")
    opened = codality("--server", cli.server.url, *p, "pr", "create", "2", env=env)
    assert opened.returncode == 0, opened.stderr
    pull = fake_github.pull(WIDGETS, 1)
    assert pull.title == "add() subtracts [codality-2]"
    assert pull.body == "x\n\n---\nOpened by Codality for ticket codality-2.\n"
    pushed = git(fake_github.repo(WIDGETS).path, "log", "-1", "--format=%s", pull.head_sha)
    assert pushed == "add() subtracts [codality-2]: uncommitted work, for the PR\n"
    fake_github.merge_pull(WIDGETS, 1, method="squash")
    bare = fake_github.repo(WIDGETS).path
    subject = git(bare, "log", "-1", "--format=%s", "main").strip()
    assert subject == "add() subtracts [codality-2] (#1)"
    assert re.findall(r"#\d+", subject + pull.body) == ["#1"]  # GitHub's PR number, nothing else


def test_pr_create_on_a_stacked_ticket_names_what_to_open_first(
    cli: Cli, fake_github: FakeGitHub, linked: dict[str, Any], git_repo: Path, tmp_path: Path
) -> None:
    p = ("-p", linked["slug"])
    first = cli(*p, "ticket", "create", "Friendlier greeting", "-d", "", "--json").json()
    attach_work(cli.server, first, git_repo, tmp_path / "wt", TICKET_BRANCH)
    second = cli(*p, "ticket", "create", "Say goodbye too", "-d", "", "--json").json()
    stack_work(
        cli.server,
        git_repo,
        first,
        second,
        tmp_path / "wt2",
        STACKED_BRANCH,
        {"farewell.txt": "goodbye\n"},
    )
    refused = cli(*p, "pr", "create", "2")
    assert refused.exit_code != 0 and refused.stderr.count("\n") == 1
    assert "stacked on #1" in refused.stderr and "`codality pr create 1`" in refused.stderr
    assert cli(*p, "pr", "create", "1").exit_code == 0
    opened = cli(*p, "pr", "create", "2")
    assert opened.exit_code == 0, opened.stderr
    assert f"opened pull request #2 for #2 into {TICKET_BRANCH}: " in opened.stderr
