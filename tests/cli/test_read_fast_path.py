"""Read commands run without typer (``fast_path``) and print exactly what the typer path prints.

Every case runs twice as a real process against the real server: ``python -m codality_cli``
(which takes the fast path) and ``codality_cli.main.run`` (the typer path, which never does);
stdout, stderr and the exit code must be identical, and the fast run must not have loaded typer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from codality_cli.fast_path import parse
from tests.cli.conftest import Cli
from tests.conftest import attach_work

FAST = (
    "import sys\n"
    "from codality_cli.launch import run\n"
    "try:\n    run()\n"
    "finally:\n    print('TYPER' if 'typer' in sys.modules else 'NO-TYPER', file=sys.stderr)\n"
)
SLOW = "from codality_cli.main import run\nrun()\n"


class Ran(NamedTuple):
    """One run: how it ended, what it printed, and (fast runs) whether typer was loaded."""

    returncode: int
    stdout: str
    stderr: str
    typer: str


def both(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[Ran, Ran]:
    """(fast, slow) runs of ``codality *argv``; the fast one's last stderr line says whether
    typer was loaded, and is taken off."""
    runs = []
    for code in (FAST, SLOW):
        done = subprocess.run(
            [sys.executable, "-c", code, *argv],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            cwd=cwd,
            timeout=60,
        )
        runs.append(done)
    fast, slow = runs
    *rest, marker = fast.stderr.splitlines(keepends=True)
    return (
        Ran(fast.returncode, fast.stdout, "".join(rest), marker.strip()),
        Ran(slow.returncode, slow.stdout, slow.stderr, ""),
    )


@pytest.fixture
def shop(cli: Cli, project: dict[str, Any], git_repo: Path, tmp_path: Path) -> dict[str, Any]:
    """Tickets (one with work on its branch), a queue and a plan with drafts."""
    p = ("-p", project["slug"])
    for title in ("Friendlier greeting", "Tabs\tand a\nnewline? no: one line", "Third"):
        assert cli(*p, "ticket", "create", title.split("\n")[0], "-d", "Body *one*.").exit_code == 0
    ticket = cli(*p, "ticket", "show", "1", "--json").json()
    attach_work(cli.server, ticket, git_repo, tmp_path / "wt", "codality/1-friendlier-greeting")
    assert cli(*p, "ticket", "close", "3").exit_code == 0
    assert cli(*p, "queue", "create", "Night run", "1", "2").exit_code == 0
    drafts = tmp_path / "drafts.json"
    drafts.write_text(json.dumps([{"title": "A draft", "description": "d", "kind": "task"}]))
    made = cli(*p, "plan", "create", "The plan", "-b", "# Plan\n\nDo it.", "--drafts", str(drafts))
    assert made.exit_code == 0, made.stderr
    return project


CASES = [
    ["ticket", "list"],
    ["ticket", "ls", "--json"],
    ["ticket", "list", "--state", "all", "--sort", "updated", "--order", "asc"],
    ["ticket", "list", "-s", "backlog", "-s", "done", "--fields", "number,title"],
    ["ticket", "list", "--kind", "bug", "--limit", "1", "--offset", "0"],
    ["ticket", "list", "-S", "greeting"],
    ["ticket", "list", "--fields", "nope"],  # a usage error, from the shared renderer
    ["ticket", "view", "1"],
    ["ticket", "show", "2", "--json"],
    ["ticket", "show", "99"],  # not found: exit 3
    ["ticket", "status", "1"],
    ["ticket", "status", "1", "--fields", "status"],
    ["ticket", "diff", "1", "--stat"],
    ["ticket", "diff", "1", "--stat", "--committed", "--json"],
    ["ticket", "diff", "1"],
    ["ticket", "diff", "2"],  # no work yet: what to do instead
    ["ticket", "runs", "1"],
    ["ticket", "runs", "1", "--json"],
    ["queue", "list"],
    ["queue", "show", "1"],
    ["queue", "show", "night RUN", "--json"],
    ["queue", "show", "nothing-like-it"],
    ["plan", "list", "--json"],
    ["plan", "show", "1"],
    ["plan", "show", "7"],
    ["__complete", "tickets"],
    ["__complete", "projects"],
]


@pytest.mark.parametrize("argv", CASES, ids=[" ".join(c) for c in CASES])
def test_the_fast_path_prints_what_the_typer_path_prints(
    cli: Cli, shop: dict[str, Any], git_repo: Path, argv: list[str]
) -> None:
    env = {"CODALITY_TOKEN": str(cli.token), "CODALITY_URL": cli.server.url}
    fast, slow = both(argv, env, git_repo)  # the project is found from the cwd
    assert fast.typer == "NO-TYPER", fast.stderr
    assert (fast.returncode, fast.stdout, fast.stderr) == (
        slow.returncode,
        slow.stdout,
        slow.stderr,
    )
    assert fast.stdout or fast.stderr  # each case shows something


def test_global_options_anywhere_and_the_cwd_project(
    cli: Cli, shop: dict[str, Any], tmp_path: Path
) -> None:
    env = {"CODALITY_TOKEN": str(cli.token)}
    argv = ["ticket", "--server", cli.server.url, "list", f"--project={shop['slug']}", "--json"]
    fast, slow = both(argv, env, tmp_path)
    assert fast.typer == "NO-TYPER"
    assert fast.returncode == 0 and json.loads(fast.stdout)
    assert (fast.stdout, fast.stderr) == (slow.stdout, slow.stderr)


@pytest.mark.parametrize(
    "argv",
    [
        ["ticket", "list", "--help"],
        ["ticket", "show", "-h", "1"],
        ["ticket", "show", "1", "2"],
        ["ticket", "status", "1", "done"],  # a write
        ["ticket", "list", "--assignee", "me"],
        ["ticket", "list", "--json", "--json"],
        ["ticket", "list", "--kind", "bug", "--kind", "task"],
        ["ticket", "diff", "1", "--merged"],
        ["ticket", "list", "--", "x"],
        ["--json", "ticket", "list"],
        ["ticket", "--json", "list"],
        ["ticket", "create", "x"],
        ["ticket"],
        ["--version"],
        ["ticket", "list", "--fields"],
        ["ticket", "list", "--fields", "--json"],
        ["ticket", "list", "--json=1"],
        ["-p", "a", "-p", "b", "ticket", "list"],
    ],
)
def test_anything_it_does_not_know_whole_is_left_to_typer(argv: list[str]) -> None:
    assert parse(argv) is None


def test_what_it_parses() -> None:
    found = parse(["-pshop", "ticket", "ls", "-sinbox", "--status=done", "--no-color", "--json"])
    assert found is not None
    _, line = found
    assert line.words == ("ticket", "ls")
    assert line.globals == {"project": "shop", "no_color": True}
    assert line.options == {"status": ["inbox", "done"], "json": True}
    assert line.arguments == []


REFUSED = [
    ["ticket", "list", "--limit", "0"],
    ["ticket", "list", "--state", "OPEN"],
    ["ticket", "show", "0"],
    ["ticket", "show", "x"],
    ["plan", "show", "-1x"],
]


@pytest.mark.parametrize("argv", REFUSED, ids=[" ".join(c) for c in REFUSED])
def test_a_refused_value_is_left_to_typer_having_sent_nothing(
    cli: Cli, project: dict[str, Any], git_repo: Path, argv: list[str]
) -> None:
    """These parse, but the command would refuse the value: typer's own usage error, exit 2."""
    env = {"CODALITY_TOKEN": str(cli.token), "CODALITY_URL": cli.server.url}
    fast, slow = both(argv, env, git_repo)
    assert fast.returncode == slow.returncode == 2
    assert fast.typer == "TYPER"
    assert fast.stderr == slow.stderr


def test_the_version_is_printed_without_the_framework(tmp_path: Path) -> None:
    fast, slow = both(["--version"], {}, tmp_path)
    assert fast == slow._replace(typer="NO-TYPER")
    assert fast.returncode == 0 and fast.stdout.startswith("codality ")
