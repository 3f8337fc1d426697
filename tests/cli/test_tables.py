"""Tables on a real terminal: at 80 columns the title keeps its room, minor columns give way.

``codality`` runs on a pseudo-terminal of the given size against the real server, as a person
at that terminal would see it.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from codality_cli.output import money
from tests.cli.conftest import Cli
from tests.cli.terminal import Terminal
from tests.fakes.anthropic_server import FakeAnthropic, text, tool

TITLE = "Greet people by name with an exclamation mark"  # 46 characters


def shown(cli: Cli, args: list[str], columns: int) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(TERM="xterm", CODALITY_TOKEN=str(cli.token), NO_COLOR="1")
    argv = [sys.executable, "-m", "codality_cli", "--server", cli.server.url, *args]
    term = Terminal(argv, env, size=(columns, 24))
    try:
        return [line.rstrip() for line in term.output().splitlines() if line.strip()]
    finally:
        term.close()


def header(lines: list[str]) -> list[str]:
    return lines[0].split()


def test_ticket_list_at_80_columns_drops_minor_columns_not_the_title(
    cli: Cli, project: dict[str, Any]
) -> None:
    p = ["-p", project["slug"]]
    for title in (TITLE, "Second"):
        assert cli(*p, "ticket", "create", title, "-d", "x").exit_code == 0

    wide = shown(cli, [*p, "ticket", "ls"], 200)  # the control: room for everything
    assert header(wide) == [
        "#",
        "TITLE",
        "KIND",
        "PRIORITY",
        "STATUS",
        "ASSIGNEE",
        "AGENT",
        "UPDATED",
    ]
    assert TITLE in wide[1]

    narrow = shown(cli, [*p, "ticket", "ls"], 80)
    assert TITLE in narrow[1]  # whole, not cut to 11 characters
    # Nobody is assigned and no agent ran: those columns go first, then the time.
    assert header(narrow) == ["#", "TITLE", "KIND", "PRIORITY", "STATUS"]
    assert max(len(line) for line in narrow) <= 80

    tiny = shown(cli, [*p, "ticket", "ls"], 50)
    assert header(tiny) == ["#", "TITLE", "STATUS"]
    assert tiny[1].startswith("1  Greet people by name with") and "…" in tiny[1]

    piped = cli(*p, "ticket", "ls")  # scripts still get every column
    assert piped.stdout.splitlines()[0].count("\t") == 7


def test_ticket_runs_at_80_columns_shows_the_cost_and_the_summary(
    cli: Cli, project: dict[str, Any], fake: FakeAnthropic
) -> None:
    p = ["-p", project["slug"]]
    summary = "Greetings now end with an exclamation mark and the tests pass."
    fake.script(tool("list_directory", path="."), text(summary))
    assert cli(*p, "ticket", "create", "Friendlier", "-d", "x").exit_code == 0
    assert cli(*p, "ticket", "start", "1").exit_code == 0
    run = cli(*p, "ticket", "runs", "1", "--json").json()["sessions"][0]
    assert run["turns"] == len(fake.requests) == 2

    wide = shown(cli, [*p, "ticket", "runs", "1"], 240)  # the control: room for everything
    assert header(wide[1:]) == [
        "ID", "TRIGGER", "STATUS", "MODEL", "SANDBOX", "TURNS", "TOKENS", "IN", "CACHE", "READ",
        "CACHE", "WRITE", "TOKENS", "OUT", "COST", "STARTED", "SUMMARY", "REASON",
    ]  # fmt: skip
    assert wide[2].split()[5] == "2"
    # The turns give way after the model and the token counts.
    middle = header(shown(cli, [*p, "ticket", "runs", "1"], 110)[1:])
    assert "TURNS" in middle and "MODEL" not in middle and "TOKENS" not in middle, middle
    narrow = shown(cli, [*p, "ticket", "runs", "1"], 80)
    assert header(narrow[1:]) == ["ID", "STATUS", "COST", "SUMMARY"]
    assert narrow[2].startswith(f"{run['id']}   completed  {money(run['cost_usd'])}  Greetings")
