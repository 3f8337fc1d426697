"""An agent run's tool lines, live and replayed, through real ``codality`` processes against the
real server and the fake model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.cli.conftest import Cli, codality
from tests.cli.test_agent_cli import file_ticket
from tests.conftest import git
from tests.fakes.anthropic_server import FakeAnthropic, text, tool


def test_read_file_lines_are_the_files_lines(
    cli: Cli, project: dict[str, Any], fake: FakeAnthropic, git_repo: Path
) -> None:
    """Blank lines count, and a file longer than an event carries (4 KB) is counted whole."""
    (git_repo / "notes.md").write_text("# Notes\n\nOne.\n\n\nTwo.\nend")  # 7 lines, 3 blank
    (git_repo / "big.txt").write_text("".join(f"line {n:04}\n" for n in range(1200)))
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "files to read")
    fake.script(tool("read_file", path="notes.md"), tool("read_file", path="big.txt"), text("Ok."))
    number = str(file_ticket(cli, project))
    env = {"CODALITY_TOKEN": str(cli.token)}
    p = ("--server", cli.server.url, "-p", project["slug"])
    live = codality(*p, "ticket", "start", number, env=env)
    assert live.returncode == 0, live.stderr
    replay = codality(*p, "ticket", "watch", number, env=env)
    for run in (live, replay):
        assert "▸ read_file notes.md  ✓ 7 lines" in run.stderr
        assert "▸ read_file big.txt  ✓ 1200 lines" in run.stderr
