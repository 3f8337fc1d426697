"""Shell completion asks the server for slugs, ticket numbers and setting names; it stays quick
and silent without one; man pages and completion scripts go where `man` and shells look
(issue 15, item 11)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from codality_cli.docs import generated_files
from codality_cli.main import build_app
from scripts.gen_docs import ROOT
from tests.cli.conftest import Cli, codality
from tests.cli.test_grammar import closed_port_url

BASH = ROOT / "completions" / "codality.bash"


@pytest.fixture
def command(tmp_path: Path) -> str:
    """``codality`` as the shell would run it: this interpreter's entry point."""
    wrapper = tmp_path / "codality"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m codality_cli "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def bash_complete(words: list[str], env: dict[str, str] | None = None) -> tuple[list[str], str]:
    """What TAB offers after ``words`` (the last one being typed), and what reached stderr."""
    quoted = " ".join("'" + word.replace("'", "'\\''") + "'" for word in words)
    probe = (
        f"source {BASH}; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1};"
        ' _codality; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run(
        ["bash", "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line], done.stderr


def test_tab_completes_what_the_server_knows(
    cli: Cli, project: dict[str, Any], command: str
) -> None:
    url, slug = cli.server.url, project["slug"]
    for title in ("One", "Two"):
        assert cli("-p", slug, "ticket", "create", title).exit_code == 0
    env = {"CODALITY_TOKEN": cli.token or ""}
    assert bash_complete([command, "--server", url, "-p", slug, "ticket", "show", ""], env) == (
        ["1", "2"],
        "",
    )
    # Global options typed after the noun count too, and a ticket's status is the second word.
    assert bash_complete([command, "ticket", "show", "--server", url, "-p", slug, ""], env)[0] == [
        "1",
        "2",
    ]
    statuses, _ = bash_complete([command, "ticket", "status", "1", "in_"], env)
    assert statuses == ["in_progress", "in_review"]
    assert bash_complete([command, "--server", url, "ticket", "list", "-p", ""], env)[0] == [slug]
    assert bash_complete([command, "--server", url, "project", "use", ""], env)[0] == [slug]
    settings, _ = bash_complete([command, "--server", url, "settings", "set", "max_"], env)
    assert "max_concurrent_agents" in settings and all(s.startswith("max_") for s in settings)
    names, _ = bash_complete([command, "--server", url, "settings", "env-set", "ANTHROPIC_"], env)
    assert "ANTHROPIC_API_KEY" in names


def test_completion_without_a_server_is_silent(tmp_path: Path, command: str) -> None:
    url = closed_port_url()
    offered, errors = bash_complete([command, "--server", url, "project", "use", ""])
    assert offered == [] and errors == ""
    asked = codality("--server", url, "__complete", "projects", env={"CODALITY_TOKEN": "t"})
    assert (asked.returncode, asked.stdout, asked.stderr) == (0, "", "")
    # The local server is never started for a TAB, and nothing is asked without a session.
    data_dir = tmp_path / "data"
    local = codality("--data-dir", str(data_dir), "__complete", "tickets")
    assert (local.returncode, local.stdout, local.stderr) == (0, "", "")
    assert not (data_dir / "server.json").exists()
    unknown = codality("--server", url, "__complete", "nonsense")
    assert (unknown.returncode, unknown.stdout, unknown.stderr) == (0, "", "")


def test_completion_help_keeps_install_lines_whole() -> None:
    shown = codality("completion", "--help", env={"COLUMNS": "80"})
    assert (
        "  bash: codality completion bash > ~/.local/share/bash-completion/completions/codality"
        in shown.stdout.splitlines()
    )
    page = (ROOT / "man" / "codality.1").read_text()
    assert ".nf\nbash: codality completion bash > ~/.local/share/bash\\-completion" in page


def test_the_wheel_installs_man_pages_and_completions_where_they_are_looked_for() -> None:
    """pyproject's data-files put every generated man page under share/man/man1 (which `man`
    searches next to a bin/ on PATH) and each script where its shell loads completions."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    data_files: dict[str, list[str]] = config["tool"]["setuptools"]["data-files"]
    installed = {
        f"{target}/{path.name}": path.relative_to(ROOT).as_posix()
        for target, patterns in data_files.items()
        for pattern in patterns
        for path in sorted(ROOT.glob(pattern))
    }
    generated = {name for name in generated_files(build_app()) if not name.endswith("help.txt")}
    assert set(installed.values()) == generated
    pages = sorted(name for name in installed if name.startswith("share/man/man1/"))
    assert "share/man/man1/codality.1" in pages and "share/man/man1/codality-ticket.1" in pages
    assert installed["share/bash-completion/completions/codality.bash"]
    assert installed["share/zsh/site-functions/_codality"]
    assert installed["share/fish/vendor_completions.d/codality.fish"]


def test_tab_offers_the_aliases_and_their_options(command: str) -> None:
    """``ticket ls``, ``view`` and ``new`` are hidden from help (which names them beside the
    command) but typed all the same: TAB offers them, and their options."""
    assert bash_complete([command, "ticket", "l"])[0] == ["list", "ls"]
    assert bash_complete([command, "ticket", "vi"])[0] == ["view"]
    assert "new" in bash_complete([command, "ticket", "n"])[0]
    assert bash_complete([command, "ticket", "ls", "--st"])[0] == ["--state", "--status"]
    assert "__complete" not in bash_complete([command, "_"])[0]
