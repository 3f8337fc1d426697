"""The warm path of a one-shot command: one connection, one request, nothing probed twice.

A counting TCP proxy stands between the CLI and the real server, and the data dir's
``server.json`` names the proxy (its pid is this process, which holds the data dir's lock as a
running server would), so the CLI takes its usual local path and every byte it sends is seen.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli
from tests.conftest import RunningServer

REQUEST_LINE = re.compile(rb"(GET|POST|PUT|PATCH|DELETE) (\S+) HTTP/1\.1\r\n")


class CountingProxy:
    """Forwards loopback TCP to ``upstream`` and records each connection's request lines."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.sent: list[bytearray] = []  # what each connection carried to the server
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            carried = bytearray()
            with self._lock:
                self.sent.append(carried)
            threading.Thread(target=self._pump, args=(client, server, carried), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, None), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, seen: bytearray | None) -> None:
        try:
            while chunk := source.recv(65536):
                if seen is not None:
                    with self._lock:
                        seen.extend(chunk)
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def take(self) -> list[list[str]]:
        """The request lines (``METHOD path``) per connection since the last call."""
        with self._lock:
            taken = [
                [f"{m.group(1).decode()} {m.group(2).decode()}" for m in REQUEST_LINE.finditer(c)]
                for c in self.sent
            ]
            self.sent.clear()
        return taken

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def proxied_data_dir(server: RunningServer, tmp_path: Path) -> Iterator[tuple[Path, CountingProxy]]:
    """A data dir whose recorded server is the proxy; its lock held by this (living) process."""
    proxy = CountingProxy(server.url)
    data_dir = tmp_path / "local-data"
    data_dir.mkdir(mode=0o700)
    record = {"url": proxy.url, "pid": os.getpid(), "port": int(proxy.url.rsplit(":", 1)[1])}
    (data_dir / "server.json").write_text(json.dumps(record))
    with (data_dir / "server.lock").open("a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield data_dir, proxy
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            proxy.close()


# What `ticket list` asks for by default: the open tickets.
OPEN_TICKETS = "status=inbox&status=backlog&status=in_progress&status=in_review"


def test_a_warm_ticket_list_is_one_request_on_one_connection(
    cli: Cli,
    project: dict[str, Any],
    git_repo: Path,
    proxied_data_dir: tuple[Path, CountingProxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data_dir, proxy = proxied_data_dir
    monkeypatch.chdir(git_repo / "src")  # the project is found from the cwd
    local = ("--data-dir", str(data_dir))
    tickets_path = f"/api/projects/{project['slug']}/tickets"
    tickets = f"GET {tickets_path}?{OPEN_TICKETS}"

    cold = cli(*local, "ticket", "list", "--json", server=False)
    assert cold.exit_code == 0, cold.stderr
    assert proxy.take() == [["GET /api/projects", tickets]]  # one connection, no health probe

    warm = cli(*local, "ticket", "list", "--json", server=False)
    assert warm.exit_code == 0, warm.stderr
    assert proxy.take() == [[tickets]]

    assert cli(*local, "ticket", "create", "One", "-d", "x", server=False).exit_code == 0
    proxy.take()
    assigned = cli(*local, "ticket", "assign", "1", "me", server=False)
    assert assigned.exit_code == 0, assigned.stderr
    assert proxy.take() == [["GET /api/auth/me", f"PATCH {tickets_path}/1/assign"]]


def test_a_project_that_is_gone_is_looked_up_again(
    cli: Cli,
    project: dict[str, Any],
    git_repo: Path,
    proxied_data_dir: tuple[Path, CountingProxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Remembered paths that name a slug the server no longer knows are refreshed on the 404."""
    data_dir, proxy = proxied_data_dir
    monkeypatch.chdir(git_repo)
    local = ("--data-dir", str(data_dir))
    assert cli(*local, "ticket", "list", server=False).exit_code == 0
    cache = Path(os.environ["XDG_CONFIG_HOME"]) / "codality" / "known-projects.json"
    remembered = json.loads(cache.read_text())
    (entry,) = remembered.values()
    entry["projects"] = [["renamed-away", str(git_repo)]]
    cache.write_text(json.dumps(remembered))
    proxy.take()

    listed = cli(*local, "ticket", "list", "--json", server=False)
    assert listed.exit_code == 0, listed.stderr
    tickets = f"GET /api/projects/{project['slug']}/tickets?{OPEN_TICKETS}"
    assert proxy.take() == [
        [f"GET /api/projects/renamed-away/tickets?{OPEN_TICKETS}", "GET /api/projects", tickets]
    ]


def test_the_credential_store_is_decided_once(tmp_path: Path, server: RunningServer) -> None:
    """Probing keyring backends is slow: the first run decides and remembers, later runs do
    not import keyring at all when the decision was the file."""
    home = tmp_path / "home"
    env = {
        **{k: v for k, v in os.environ.items() if k != "CODALITY_NO_KEYRING"},
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        # keyring's own switch: no backend works, as on a headless machine without one.
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    probe = (
        "import sys\n"
        "from codality_cli.launch import run\n"
        f"sys.argv = ['codality', '--server', {server.url!r}, 'auth', 'status']\n"
        "try:\n    run()\nexcept SystemExit:\n    pass\n"
        "print('keyring' in sys.modules, file=sys.stderr)\n"
    )

    def keyring_loaded() -> str:
        done = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
        )
        return done.stderr.strip().splitlines()[-1]

    assert keyring_loaded() == "True"  # decided: it had to look
    config = json.loads((home / ".config" / "codality" / "config.json").read_text())
    assert config["credential_store"] == {"kind": "file"}
    assert keyring_loaded() == "False"  # remembered: no probing, no import


def test_a_connection_the_server_dropped_is_reopened_for_reads_only() -> None:
    """A server that closes every connection after one answer (no ``Connection: close``)."""
    from codality_cli.api import ApiClient, ServerUnavailable
    from codality_cli.api.transport import run_blocking

    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with client:
                request = client.recv(65536)
                seen.append(request.split(b"\r\n", 1)[0])
                client.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCodality-Version: 0\r\n"
                    b"Content-Length: 2\r\n\r\n[]"
                )

    threading.Thread(target=serve, daemon=True).start()
    api = ApiClient(f"http://127.0.0.1:{listener.getsockname()[1]}", "t", blocking=True)
    try:
        assert run_blocking(api.projects.list()) == []
        assert run_blocking(api.projects.list()) == []  # reopened, sent once more
        with pytest.raises(ServerUnavailable):
            run_blocking(api.tickets.create("p", {"title": "x"}))  # never sent twice
    finally:
        run_blocking(api.aclose())
        listener.close()
    assert seen == [b"GET /api/projects HTTP/1.1"] * 2


def test_a_one_shot_command_loads_no_event_loop_http_library_or_keyring(
    cli: Cli, project: dict[str, Any]
) -> None:
    """``ticket list --json`` needs typer and http.client; asyncio, httpx, keyring, rich and
    platformdirs are each tens of milliseconds it does without, and so are the generated typed
    models (for type checking only)."""
    heavy = ["asyncio", "httpx", "keyring", "rich", "platformdirs", "textual"]
    heavy += ["codality_cli.api.models", "codality_cli.api.event_types"]
    argv = ["codality", "--server", cli.server.url, "-p", project["slug"], "ticket", "list"]
    probe = (
        "import json, sys\n"
        "from codality_cli.launch import run\n"
        f"sys.argv = {[*argv, '--json']!r}\n"
        "try:\n    run()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]), file=sys.stderr)\n"
    )
    env = {**os.environ, "CODALITY_TOKEN": str(cli.token)}
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []
