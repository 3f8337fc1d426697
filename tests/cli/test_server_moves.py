"""The local server killed or restarted under its clients: it comes back where it was, and the
clients that follow the event stream find it (wherever it is now), say so and carry on.

Everything here is real processes: the server the CLI starts, ``kill -9``, the sockets the dead
server leaves behind, and ``codality`` watchers reading its stream.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codality_cli.local_server import lock_held, preferred_ports
from codality_cli.settings import DEFAULT_PORT
from tests.cli.conftest import codality
from tests.fakes.anthropic_server import FakeAnthropic, text

LOST = "connection lost — reconnecting"


def wait_for(check: Callable[[], object], timeout: float = 60) -> None:
    """Poll ``check`` until it holds (a deadline, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def record(data_dir: Path) -> dict[str, object]:
    return dict(json.loads((data_dir / "server.json").read_text()))


def port_of(data_dir: Path) -> int:
    return int(str(record(data_dir)["port"]))


def kill_9(data_dir: Path) -> int:
    """SIGKILL the data dir's server and wait until it is gone; returns the port it had."""
    port = port_of(data_dir)
    os.kill(int(str(record(data_dir)["pid"])), signal.SIGKILL)
    wait_for(lambda: not lock_held(data_dir), 15)
    return port


def plain_bind_fails(port: int) -> bool:
    """Whether binding ``port`` without ``SO_REUSEADDR`` fails: what the dead server's sockets
    (``TIME_WAIT``, ``FIN_WAIT2``) do to a naive "is it free?" probe."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def keep_alive_client(port: int) -> http.client.HTTPConnection:
    """A client with a connection open on the server (so killing it leaves sockets behind)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/healthz")
    assert conn.getresponse().read()
    return conn


@pytest.fixture
def stranger() -> Iterator[Callable[[int], socket.socket]]:
    """Another program taking a port (it listens and never answers)."""
    held: list[socket.socket] = []

    def take(port: int) -> socket.socket:
        sock = socket.socket()
        held.append(sock)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
        return sock

    yield take
    for sock in held:
        sock.close()


def test_a_server_killed_or_restarted_with_clients_connected_comes_back_on_its_port(
    local_data_dir: Path,
) -> None:
    data = ["--data-dir", str(local_data_dir)]
    # Port 0: anywhere but 7420, so "back on 7420" cannot pass for "back where it was".
    started = codality(*data, "server", "start", "--port", "0")
    assert started.returncode == 0, started.stderr
    port = port_of(local_data_dir)
    assert port != DEFAULT_PORT

    client = keep_alive_client(port)
    assert kill_9(local_data_dir) == port
    client.close()
    assert plain_bind_fails(port)  # the dead server's sockets are still there

    again = codality(*data, "server", "start")
    assert again.returncode == 0, again.stderr
    assert port_of(local_data_dir) == port
    assert f"started at http://127.0.0.1:{port} " in again.stderr

    client = keep_alive_client(port)
    restarted = codality(*data, "server", "restart")
    client.close()
    assert restarted.returncode == 0, restarted.stderr
    assert port_of(local_data_dir) == port


def test_the_last_port_comes_first_then_7420_and_a_taken_one_is_skipped(
    local_data_dir: Path, stranger: Callable[[int], socket.socket]
) -> None:
    assert preferred_ports(local_data_dir) == [DEFAULT_PORT, 0]
    data = ["--data-dir", str(local_data_dir)]
    assert codality(*data, "server", "start", "--port", "0").returncode == 0
    port = port_of(local_data_dir)
    assert preferred_ports(local_data_dir) == [port, DEFAULT_PORT, 0]
    assert codality(*data, "server", "stop").returncode == 0

    stranger(port)
    moved = codality(*data, "server", "start")
    assert moved.returncode == 0, moved.stderr
    assert port_of(local_data_dir) != port
    assert f"started at {record(local_data_dir)['url']} " in moved.stderr


def watcher(args: list[str], cwd: Path, out: Path, err: Path) -> subprocess.Popen[bytes]:
    with out.open("wb") as stdout, err.open("wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "codality_cli", *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )


def finished(process: subprocess.Popen[bytes], timeout: float) -> int:
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
        raise AssertionError("the watcher never finished") from None


def test_ticket_watch_finds_the_server_again_after_kill_9_on_another_port(
    local_data_dir: Path,
    git_repo: Path,
    tmp_path: Path,
    stranger: Callable[[int], socket.socket],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeAnthropic().start()
    try:
        # A long reply, a chunk every 0.2 s: the run is still going when the server dies.
        fake.script(text("Working on it. " * 400, delay_s=0.2))
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        data = ["--data-dir", str(local_data_dir)]
        assert codality(*data, "server", "start", "--port", "0").returncode == 0
        assert codality(*data, "project", "create", "--path", ".", cwd=git_repo).returncode == 0
        assert codality(*data, "ticket", "create", "Slow", cwd=git_repo).returncode == 0
        started = codality(*data, "ticket", "start", "1", "--detach", cwd=git_repo)
        assert started.returncode == 0, started.stderr

        out, err = tmp_path / "watch.out", tmp_path / "watch.err"
        watch = watcher([*data, "ticket", "watch", "1"], git_repo, out, err)
        wait_for(lambda: "Working on it." in out.read_text())
        port = kill_9(local_data_dir)
        stranger(port)  # its port taken meanwhile: the server must come back elsewhere

        # The watcher starts the server again itself, finds it through the data dir, and
        # learns the run was interrupted by the restart.
        code = finished(watch, 60)
        said = err.read_text()
        assert LOST in said, said
        assert "interrupted" in said.split(LOST, 1)[1], said
        assert code == 7, said  # the run did not complete (5 would be "unreachable")
        assert "Traceback" not in said
        assert port_of(local_data_dir) != port
        status = codality(*data, "ticket", "runs", "1", "--json", cwd=git_repo)
        assert json.loads(status.stdout)["sessions"][0]["status"] == "interrupted"
    finally:
        fake.stop()


def test_codality_events_resumes_after_kill_9_and_shows_what_came_after(
    local_data_dir: Path, git_repo: Path, tmp_path: Path
) -> None:
    data = ["--data-dir", str(local_data_dir)]
    assert codality(*data, "server", "start", "--port", "0").returncode == 0
    assert codality(*data, "project", "create", "--path", ".", cwd=git_repo).returncode == 0
    assert codality(*data, "ticket", "create", "Before", cwd=git_repo).returncode == 0

    out, err = tmp_path / "events.out", tmp_path / "events.err"
    follow = watcher(
        [*data, "events", "-c", "ticket:1", "--last-event-id", "0"], git_repo, out, err
    )
    wait_for(lambda: '"ticket:created"' in out.read_text())
    port = kill_9(local_data_dir)
    wait_for(lambda: LOST in err.read_text())

    # Whoever gets there first starts the server again; the stream resumes on its own.
    edited = codality(*data, "ticket", "edit", "1", "--title", "After", cwd=git_repo)
    assert edited.returncode == 0, edited.stderr
    wait_for(lambda: '"After"' in out.read_text())
    follow.terminate()
    follow.wait(10)
    assert port_of(local_data_dir) == port
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["data"]["title"] for e in lines if e["type"] == "ticket:updated"] == ["After"]
    assert "Traceback" not in err.read_text()
