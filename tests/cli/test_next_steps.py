"""Empty lists say what to do next (on stderr; ``--json`` prints ``[]``), and the install leaves
a ``codality`` that runs (issue 15, item 12)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from codality_cli.output import EMPTY_HINTS
from tests.cli.conftest import Cli, codality


def listed(cli: Cli, *args: str) -> subprocess.CompletedProcess[str]:
    return codality("--server", cli.server.url, *args, env={"CODALITY_TOKEN": cli.token or ""})


def test_an_empty_list_says_what_to_do_next(cli: Cli, git_repo: Path) -> None:
    nothing = listed(cli, "project", "list")
    assert (nothing.returncode, nothing.stdout) == (0, "")
    assert nothing.stderr == EMPTY_HINTS["project list"] + "\n"
    assert "codality project create" in nothing.stderr
    as_json = listed(cli, "project", "list", "--json")
    assert (as_json.returncode, json.loads(as_json.stdout), as_json.stderr) == (0, [], "")

    created = listed(cli, "project", "create", "--path", str(git_repo), "--json")
    slug = json.loads(created.stdout)["slug"]
    for command in ("ticket list", "plan list", "queue list", "discover list"):
        empty = listed(cli, "-p", slug, *command.split())
        assert (empty.returncode, empty.stdout) == (0, ""), (command, empty.stderr)
        assert empty.stderr == EMPTY_HINTS[command] + "\n", command
        quiet = listed(cli, "-p", slug, *command.split(), "--json")
        assert (json.loads(quiet.stdout), quiet.stderr) == ([], ""), command
    # A list with rows prints them and no hint.
    listed(cli, "-p", slug, "ticket", "create", "First")
    rows = listed(cli, "-p", slug, "ticket", "list")
    assert rows.stdout.startswith("1\t") and "codality ticket create" not in rows.stderr


def test_the_install_leaves_a_codality_that_runs() -> None:
    """What the README's install puts beside the interpreter (``.venv/bin``, on PATH once the
    venv is activated, or a pipx/uv tool's own bin) is a working ``codality``."""
    command = Path(sys.executable).parent / "codality"
    assert command.is_file() and os.access(command, os.X_OK)
    ran = subprocess.run([str(command), "--version"], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0 and ran.stdout.startswith("codality ")
