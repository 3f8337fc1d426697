"""``codality discover chat`` driven through a real pseudo-terminal, and ``discover say``.

The REPL runs as its own process on a pty (``pty.fork``: the pty is its controlling terminal,
so Ctrl-C is a real SIGINT from the line discipline), against the real server and the scripted
model.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.conftest import Cli
from tests.cli.terminal import Terminal
from tests.conftest import RunningServer
from tests.fakes.anthropic_server import FakeAnthropic, text, tool


@pytest.fixture
def chat_setup(
    cli: Cli, project: dict[str, Any], agent_api: httpx.AsyncClient
) -> Iterator[tuple[Cli, dict[str, Any], int]]:
    made = cli("-p", project["slug"], "discover", "new", "REPL", "--json")
    yield cli, project, int(made.json()["id"])


def repl(server: RunningServer, token: str, slug: str, conversation_id: int) -> Terminal:
    env = {**os.environ, "CODALITY_TOKEN": token, "TERM": "dumb", "NO_COLOR": "1"}
    argv = [sys.executable, "-m", "codality_cli", "--server", server.url, "-p", slug]
    return Terminal([*argv, "discover", "chat", str(conversation_id)], env)


def test_the_repl_streams_asks_about_proposals_cancels_and_keeps_history(
    chat_setup: tuple[Cli, dict[str, Any], int],
    fake_anthropic: FakeAnthropic,
    isolated_home: Path,
) -> None:
    cli, project, conversation_id = chat_setup
    slug = project["slug"]
    fake_anthropic.script(
        tool("read_file", say="Reading the app.", path="src/app.py"),
        tool("propose_tickets", tickets=[{"title": "Greet loudly", "kind": "feature"}]),
        text("Confirm it when you like."),
        text("word " * 300, delay_s=0.03),
        text("Got both lines."),
    )
    term = repl(cli.server, cli.token or "", slug, conversation_id)
    try:
        term.expect("!multi")
        term.expect("> ")
        term.type("Plan a louder greeting\r")
        shown = term.expect("[c/e/r/s]")
        assert "Reading the app." in shown
        assert "▸ read_file src/app.py" in shown
        assert "Confirm it when you like." in shown
        assert "1 ticket" in shown and "[feature/medium] Greet loudly" in shown
        term.type("c\r")
        term.expect("confirmed: created ticket #1")
        listed = cli("-p", slug, "ticket", "list", "--json").json()
        assert [t["title"] for t in listed] == ["Greet loudly"]

        term.expect("> ")
        term.type("Talk for a while\r")
        term.expect("word word word")
        term.type("\x03")  # Ctrl-C: a real SIGINT from the pty
        term.expect("[reply cancelled]")
        term.expect("> ")
        shown = cli("-p", slug, "discover", "show", str(conversation_id), "--json").json()
        assert shown["messages"][-1]["status"] == "cancelled"

        term.type("!multi\r")
        term.type("line one\r")
        term.type("line two\r")
        term.type("!end\r")
        term.expect("Got both lines.")
        last = fake_anthropic.requests[-1]["messages"][-1]["content"][-1]["text"]
        assert last == "line one\nline two"
        term.expect("> ")
        term.type("!exit\r")
        assert term.wait() == 0
    finally:
        term.close()
    history = (isolated_home / ".config" / "codality" / "discover_history").read_text()
    assert "Plan a louder greeting" in history and "!multi" in history


def test_say_prints_the_finished_reply_and_json(
    chat_setup: tuple[Cli, dict[str, Any], int], fake_anthropic: FakeAnthropic
) -> None:
    cli, project, conversation_id = chat_setup
    slug = project["slug"]
    fake_anthropic.script(
        tool("list_directory", say="Looking.", path="."),
        text("It is a tiny app."),
        text("Second."),
    )
    said = cli("-p", slug, "discover", "say", str(conversation_id), "What is this?")
    assert said.exit_code == 0, said.stderr
    assert said.stdout == "Looking.\nIt is a tiny app.\n"
    assert "▸ list_directory ." in said.stderr
    as_json = cli("-p", slug, "discover", "say", str(conversation_id), "More", "--json")
    assert as_json.json()["content"] == "Second." and as_json.json()["status"] == "complete"
    piped = cli("-p", slug, "discover", "chat", str(conversation_id))
    assert piped.exit_code == 2 and "discover say" in piped.stderr


def test_two_messages_of_one_reply_stream_as_two_paragraphs(
    chat_setup: tuple[Cli, dict[str, Any], int], fake_anthropic: FakeAnthropic
) -> None:
    """A reply that says something, proposes (not shown while streaming), then says more: the
    two messages are two stored blocks, so the REPL starts the second on a line of its own
    (they used to run together as ``…ticket.Confirm…``)."""
    cli, project, conversation_id = chat_setup
    fake_anthropic.script(
        tool(
            "propose_tickets",
            say="I would make one ticket.",
            tickets=[{"title": "Greet loudly", "kind": "feature"}],
        ),
        text("Confirm it when you like."),
    )
    term = repl(cli.server, cli.token or "", project["slug"], conversation_id)
    try:
        term.expect("> ")
        term.type("Plan a louder greeting\r")
        shown = term.expect("[c/e/r/s]")
        assert "I would make one ticket.\nConfirm it when you like.\n" in shown
        term.type("s\r")
        term.expect("> ")
        term.type("!exit\r")
        assert term.wait() == 0
    finally:
        term.close()
    replayed = cli("-p", project["slug"], "discover", "show", str(conversation_id))
    assert replayed.stdout == "I would make one ticket.\nConfirm it when you like.\n"
    assert "[feature/medium] Greet loudly" in replayed.stderr
