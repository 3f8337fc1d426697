"""Completions and man pages are generated from the command tree and kept current."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from codality_cli.docs import command_tree, generated_files, walk
from codality_cli.main import build_app
from scripts.gen_docs import ROOT, stale_files
from tests.cli.conftest import Cli


def test_generated_files_are_current() -> None:
    stale = stale_files()
    assert not stale, f"run `.venv/bin/python scripts/gen_docs.py`; stale: {stale}"


def test_stale_detection_notices_a_change(tmp_path: Path) -> None:
    for relative, text in generated_files(build_app()).items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    assert stale_files(tmp_path) == []
    (tmp_path / "man" / "codality-ticket.1").write_text("old\n")
    assert stale_files(tmp_path) == ["man/codality-ticket.1"]


def test_every_command_has_help_and_a_man_section() -> None:
    tree = command_tree(build_app())
    pages = generated_files(build_app())
    for doc in walk(tree):
        assert doc.help, f"{doc.key} has no help text"
        if len(doc.path) == 3:
            assert (
                doc.key.upper().replace("-", "\\-") in pages[f"man/{doc.path[0]}-{doc.path[1]}.1"]
            )


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_command_prints_the_files(cli: Cli, shell: str) -> None:
    name = {"bash": "codality.bash", "zsh": "_codality", "fish": "codality.fish"}[shell]
    printed = cli("completion", shell, server=False)
    assert printed.exit_code == 0
    assert printed.stdout == (ROOT / "completions" / name).read_text()


def test_bash_completion_completes_nouns_verbs_and_choices() -> None:
    script = ROOT / "completions" / "codality.bash"
    probe = (
        f"source {script}; COMP_WORDS=(codality ticket list --status ''); COMP_CWORD=4;"
        ' _codality; echo "${COMPREPLY[@]}"; COMP_WORDS=(codality -p x tic); COMP_CWORD=3;'
        ' _codality; echo "${COMPREPLY[@]}"'
    )
    lines = subprocess.run(
        ["bash", "-c", probe], capture_output=True, text=True
    ).stdout.splitlines()
    assert lines == ["inbox backlog in_progress in_review done cancelled", "ticket"]


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff not installed")
def test_man_pages_render_without_warnings() -> None:
    for page in sorted((ROOT / "man").glob("*.1")):
        rendered = subprocess.run(
            ["groff", "-man", "-Tutf8", "-ww", str(page)], capture_output=True, text=True
        )
        assert rendered.returncode == 0 and not rendered.stderr, (page, rendered.stderr)


@pytest.mark.parametrize("columns", ["80", "132"])
def test_prerendered_root_help_is_what_the_framework_prints(columns: str) -> None:
    import os
    import sys

    env = {**os.environ, "COLUMNS": columns}

    def help_of(*command: str) -> str:
        return subprocess.run(
            [sys.executable, *command, "--help"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout

    framework = help_of("-c", "from codality_cli.main import run; run()")
    served = help_of("-m", "codality_cli")
    assert served == framework
    assert "Usage: codality" in served and "ticket" in served
