"""``codality tui`` and bare ``codality``: what they do before any screen is drawn."""

from __future__ import annotations

from tests.cli.conftest import Cli, cli  # noqa: F401 - the CLI fixture
from tests.conftest import RunningServer


def test_bare_codality_off_a_terminal_prints_help(cli: Cli) -> None:  # noqa: F811
    ran = cli()
    assert ran.exit_code == 0, ran.stderr
    assert "Usage: codality" in ran.stdout and "tui" in ran.stdout


def test_tui_names_an_unknown_project_before_drawing_anything(cli: Cli) -> None:  # noqa: F811
    ran = cli("tui", "--project", "no-such-project")
    assert ran.exit_code == 3, (ran.stdout, ran.stderr)
    assert "no-such-project" in ran.stderr


def test_tui_help_describes_the_board(server: RunningServer, cli: Cli) -> None:  # noqa: F811
    ran = cli("tui", "--help")
    assert ran.exit_code == 0
    assert "--project" in ran.stdout and "full-screen board" in ran.stdout
