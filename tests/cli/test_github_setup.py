"""Every GitHub set-up error names the one command to run next — never one that leads back.

Real ``codality`` processes against the real server and the fake GitHub, following the set-up
as a new user meets it: ``pr create`` before anything is connected, then before the project is
linked, and ``github link`` with an ``origin`` that is not on GitHub (or no ``origin`` at all).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.cli.conftest import Cli, codality
from tests.cli.test_github_cli import on_server
from tests.conftest import attach_work, git
from tests.fakes.github_server import FakeGitHub
from tests.github_flow import OWNER, connect

LINK_BY_NAME = "name the GitHub repository: `codality github link OWNER/REPO`"


def run(cli: Cli, project: dict[str, Any], *args: str) -> Any:
    env = {"CODALITY_TOKEN": str(cli.token)}
    return codality("--server", cli.server.url, "-p", project["slug"], *args, env=env)


def test_pr_create_names_connect_then_link_then_works(
    cli: Cli,
    project: dict[str, Any],
    fake_github: FakeGitHub,
    git_repo: Path,
    tmp_path: Path,
) -> None:
    ticket = cli("-p", project["slug"], "ticket", "create", "Hi", "-d", "x", "--json").json()
    attach_work(cli.server, ticket, git_repo, tmp_path / "wt", "codality/1-hi")

    nothing = run(cli, project, "pr", "create", "1")
    assert nothing.returncode == 6
    assert "run `codality github connect`" in nothing.stderr  # not `github link`, which says so
    assert "github link" not in nothing.stderr
    unconnected = run(cli, project, "github", "link", f"{OWNER}/widgets")
    assert "run `codality github connect`" in unconnected.stderr

    on_server(cli, lambda api: connect(api, fake_github))
    unlinked = run(cli, project, "pr", "create", "1")
    assert unlinked.returncode == 6 and "run `codality github link`" in unlinked.stderr

    fake_github.create_repo(OWNER, "widgets", source=git_repo)
    linked = run(cli, project, "github", "link", f"{OWNER}/widgets")
    assert linked.returncode == 0, linked.stderr
    opened = run(cli, project, "pr", "create", "1")
    assert opened.returncode == 0, opened.stderr


def test_link_with_an_origin_not_on_github_says_to_name_the_repository(
    cli: Cli, project: dict[str, Any], fake_github: FakeGitHub, git_repo: Path
) -> None:
    on_server(cli, lambda api: connect(api, fake_github))

    bare = run(cli, project, "github", "link")  # no origin at all
    assert bare.returncode == 2, bare.stderr
    assert bare.stderr == f"error: the project has no `origin` remote; {LINK_BY_NAME}\n"

    git(git_repo, "remote", "add", "origin", "/srv/git/widgets.git")  # a path, not a URL
    local = run(cli, project, "github", "link")
    assert local.returncode == 2
    assert local.stderr == (
        f"error: the project's `origin` does not name a GitHub repository; {LINK_BY_NAME}\n"
    )
    assert "--clone" not in local.stderr  # an option `github link` does not have

    git(git_repo, "remote", "set-url", "origin", "https://gitlab.example.com/acme/widgets.git")
    gitlab = run(cli, project, "github", "link")
    assert gitlab.returncode == 2
    assert gitlab.stderr == (
        f"error: the project's `origin` is on gitlab.example.com, not GitHub; {LINK_BY_NAME}\n"
    )

    fake_github.create_repo(OWNER, "widgets", source=git_repo)
    named = run(cli, project, "github", "link", f"{OWNER}/widgets")  # what it said to do
    assert named.returncode == 0, named.stderr
