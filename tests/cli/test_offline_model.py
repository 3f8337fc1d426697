"""The README's "another model endpoint" commands, run as written: the models named with
``settings set``, the scripted model server started with its documented command line, the server
pointed at it with ``settings env-set``, and a discovery conversation answered by it through the
real SDK, asking for the model the settings name."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.cli.conftest import Cli

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_commands(marker: str) -> list[list[str]]:
    """The commands of the README's code block that holds ``marker``."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), re.DOTALL)
    [block] = [b for b in blocks if marker in b]
    lines = [line.split("  #")[0].strip() for line in block.splitlines()]
    return [shlex.split(line) for line in lines if line]


def test_the_readme_endpoint_and_offline_commands_work(cli: Cli, project: dict[str, Any]) -> None:
    models = [c for c in readme_commands("llm-gateway") if c[1:3] == ["settings", "set"]]
    assert [c[3] for c in models] == ["model", "fast_model"]
    for command in models:
        assert cli(*command[1:]).exit_code == 0, command
    start, *commands = readme_commands("codality_server.scripted")
    assert start[:3] == ["python", "-m", "codality_server.scripted"]
    assert [c[:3] for c in commands[-2:]] == [
        ["codality", "discover", "new"],
        ["codality", "discover", "say"],
    ]
    port = start[start.index("--port") + 1]
    argv = [sys.executable, *start[1:]]
    argv[argv.index("--port") + 1] = "0"  # any free port here; the README names one
    model = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert model.stdout is not None
        url = model.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
        printed = []
        for command in commands:
            assert command[0] == "codality"
            args = [
                arg.replace(f"127.0.0.1:{port}", url.removeprefix("http://")) for arg in command
            ]
            run = cli("-p", project["slug"], *args[1:])
            assert run.exit_code == 0, (command, run.stderr)
            printed.append(run)
        pointed = ["codality", "settings", "env-set", "ANTHROPIC_BASE_URL"]
        assert commands[0] == [*pointed, f"http://127.0.0.1:{port}"]
        answer = printed[-1]
        assert "Let me look at the project first." in answer.stdout  # the discover script
        assert "Greet in other languages" in answer.stderr  # its proposal, as a card
        number = printed[-2].stdout.strip()
        shown = cli("-p", project["slug"], "discover", "show", number, "--json").json()
        assert shown["messages"][-1]["model"] == models[0][4]  # the model the settings name
    finally:
        model.terminate()
        _, complaints = model.communicate(timeout=10)
    assert "scripted model:" not in complaints
