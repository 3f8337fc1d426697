"""``codality demo --discover``: a scripted discovery conversation, offline, in the demo's own
data dir."""

from __future__ import annotations

from typing import Any

from tests.cli.conftest import Cli
from tests.conftest import RunningServer


def test_demo_discover_streams_a_reply_and_confirms_its_tickets_and_queue(
    server: RunningServer, tmp_path: Any
) -> None:
    data_dir = tmp_path / "user-data"
    run = Cli(server, None)("--data-dir", str(data_dir), "demo", "--discover", server=False)
    assert run.exit_code == 0, run.stderr
    assert "greeter is one function" in run.stdout
    assert "▸ read_file greeter.py" in run.stderr
    assert "proposal 1 · 2 tickets" in run.stderr
    assert "2. [chore/low] Document greet() in the README (after 1)" in run.stderr
    assert "confirmed (as y would): created tickets #1, #2" in run.stderr
    assert "queue: Farewells" in run.stderr
    assert "confirmed (as y would): created tickets #3, #4; created queue 1" in run.stderr
    assert "discover chat 1" in run.stderr
    assert not (data_dir / "codality.db").exists()  # the user's own data dir is untouched
    assert not (data_dir / "demo" / "server.json").exists()  # the demo server was stopped
