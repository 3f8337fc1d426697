"""Run the CLI in-process (typer's CliRunner) against the real server fixture.

CLI tests are plain (sync) functions: the CLI runs its own ``asyncio.run``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from codality_cli.main import app
from codality_cli.streams import Streams
from tests.conftest import RunningServer
from tests.fakes.anthropic_server import FakeAnthropic


@dataclass
class Run:
    """What one invocation printed and how it ended."""

    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Cli:
    """Invoke ``codality`` against one server, signed in with a token from the environment."""

    server: RunningServer
    token: str | None

    def __call__(
        self,
        *args: str,
        tty: bool = False,
        input: str | None = None,
        env: dict[str, str] | None = None,
        server: bool = True,
    ) -> Run:
        environ = {"CODALITY_TOKEN": self.token} if self.token else {}
        environ.update(env or {})
        prefix = ["--server", self.server.url] if server else []
        streams = Streams.for_test(tty=tty) if tty else None
        result = CliRunner().invoke(app, [*prefix, *args], input=input, env=environ, obj=streams)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        if streams is not None:
            return Run(
                result.exit_code,
                result.stdout + streams.out.getvalue(),  # type: ignore[attr-defined]
                result.stderr + streams.err.getvalue(),  # type: ignore[attr-defined]
            )
        return Run(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def cli(server: RunningServer, admin_token: str) -> Cli:
    return Cli(server, admin_token)


@pytest.fixture
def fake(server: RunningServer, admin_token: str) -> Iterator[FakeAnthropic]:
    """The fake model, with the server's agent pointed at it."""
    fake = FakeAnthropic().start()
    env = {"ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": fake.url}
    response = httpx.put(
        f"{server.url}/api/settings/env",
        json=env,
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert response.status_code == 200
    yield fake
    fake.stop()


@pytest.fixture
def project(cli: Cli, git_repo: Path) -> dict[str, Any]:
    """The sample repository registered as a project."""
    created = cli("project", "create", "--path", str(git_repo), "--json")
    assert created.exit_code == 0, created.stderr
    return dict(created.json())


def codality(
    *args: str,
    cwd: Path | None = None,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """The real console entry point in a subprocess (for auto-start, exit codes, import cost);
    ``env`` is added to this process's environment. Without ``input``, stdin is empty."""
    return subprocess.run(
        [sys.executable, "-m", "codality_cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        input=input if input is not None else "",
    )


def fake_editor(tmp_path: Path, text: str) -> str:
    """An ``$EDITOR`` that puts ``text`` before what the file held (and saves)."""
    script = tmp_path / "fake-editor"
    script.write_text(
        f"#!{sys.executable}\nimport sys\n"
        f"path = sys.argv[1]\nold = open(path).read()\n"
        f"open(path, 'w').write({text!r} + old)\n"
    )
    script.chmod(0o755)
    return str(script)


@pytest.fixture
def local_data_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh data dir for a server the CLI starts itself; stopped at the end, whatever happens."""
    data_dir = tmp_path / "codality-data"
    yield data_dir
    codality("--data-dir", str(data_dir), "server", "stop")
