"""The entry point builds only the command being run, and finds it among global options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from codality_cli.main import build_app, invoked_command, invoked_words


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["ticket", "list"], "ticket"),
        (["-p", "ticket", "project", "list"], "project"),
        (["--server", "http://x", "--no-color", "login"], "login"),
        (["--data-dir", "/tmp/d", "auth", "status"], "auth"),
        (["--project=x", "me", "show"], "me"),
        (["no-such-command"], None),
        (["--version"], None),
        ([], None),
    ],
)
def test_the_command_word_is_found(argv: list[str], expected: str | None) -> None:
    assert invoked_command(argv) == expected


def test_one_command_builds_alone_and_all_build_together() -> None:
    import typer

    alone = typer.main.get_command(build_app("ticket"))
    everything = typer.main.get_command(build_app())
    assert list(alone.commands) == ["ticket"]  # type: ignore[attr-defined]
    assert {"ticket", "project", "login", "auth", "tui", "demo"} <= set(everything.commands)  # type: ignore[attr-defined]
    verbs = set(alone.commands["ticket"].commands)  # type: ignore[attr-defined]
    assert {"list", "comment", "start", "merge"} <= verbs  # ticket verbs from every module


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["ticket", "list", "--json"], ("ticket", "list")),
        (["--server", "http://x", "ticket", "-h"], ("ticket", None)),
        (["-p", "app", "ticket", "merge", "3", "--yes"], ("ticket", "merge")),
        (["no-such-command", "list"], (None, None)),
    ],
)
def test_the_verb_is_found_after_the_command(
    argv: list[str], expected: tuple[str | None, str | None]
) -> None:
    assert invoked_words(argv) == expected


def test_a_known_verb_is_built_alone_and_an_unknown_one_builds_them_all() -> None:
    import typer

    one = typer.main.get_command(build_app("ticket", "list"))
    assert list(one.commands["ticket"].commands) == ["list"]  # type: ignore[attr-defined]
    typo = typer.main.get_command(build_app("ticket", "lsit"))
    assert {"list", "merge"} <= set(typo.commands["ticket"].commands)  # type: ignore[attr-defined]
    # The shared sub-app itself keeps every verb for the next build.
    again = typer.main.get_command(build_app("ticket"))
    assert {"list", "merge"} <= set(again.commands["ticket"].commands)  # type: ignore[attr-defined]


def test_running_a_command_imports_only_its_own_module() -> None:
    probe = (
        "import json, sys\n"
        "sys.argv = ['codality', 'ticket', '--help']\n"
        "from codality_cli.main import run\n"
        "try:\n    run()\nexcept SystemExit:\n    pass\n"
        "mods = [m for m in sys.modules if m.startswith('codality_cli.commands.')]\n"
        "print(json.dumps(mods))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "codality_cli.commands.ticket" in loaded
    assert not loaded & {"codality_cli.commands.project", "codality_cli.commands.settings"}


@pytest.mark.parametrize("xdg", ["", "  ", "/somewhere/else"])
def test_config_and_data_dirs_follow_platformdirs(
    xdg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI finds them without importing platformdirs; the server uses platformdirs itself."""
    import platformdirs

    from codality_cli.settings import default_config_dir, default_data_dir

    monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
    monkeypatch.setenv("XDG_DATA_HOME", xdg)
    assert default_config_dir() == Path(platformdirs.user_config_dir("codality"))
    assert default_data_dir({}) == Path(platformdirs.user_data_dir("codality"))
