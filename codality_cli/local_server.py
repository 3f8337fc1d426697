"""Find or start the embedded server of a data dir — without ever importing ``codality_server``.

A server is *running* when ``server.json`` names a URL whose ``/healthz`` answers. Starting one
spawns ``python -m codality_server --data-dir D --port LAST --port 7420 --port 0`` in its own
session (so Ctrl-C in the CLI never reaches it) with its output appended to ``logs/server.log``,
then waits for the new ``server.json`` and ``/healthz``. Whether *any* server holds the data dir
is read from the ``flock`` on ``server.lock``, the same lock the server takes, so a stale
``server.json`` left by a crash never fools us. Probes use stdlib ``http.client``: cheaper to
import than httpx. Only what finding a running server needs is imported with the module (it is on
every command's path).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import subprocess

from .errors import CliError, ExitCode
from .settings import DEFAULT_PORT

START_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 15.0


class ServerInfo(NamedTuple):
    """A server that answered ``/healthz``."""

    url: str
    pid: int
    version: str
    setup_required: bool


def log_path(data_dir: Path) -> Path:
    return data_dir / "logs" / "server.log"


def read_server_json(data_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((data_dir / "server.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def probe(url: str, timeout: float = 1.0) -> dict[str, Any] | None:
    """``/healthz`` of ``url``, or None when nothing healthy answers there."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            return None
        data = json.loads(body)
        return data if isinstance(data, dict) and data.get("status") == "ok" else None
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def lock_held(data_dir: Path) -> bool:
    """True while some server process holds the data dir's lock (alive, maybe still starting)."""
    path = data_dir / "server.lock"
    if not path.exists():
        return False
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def recorded_url(data_dir: Path) -> str | None:
    """``server.json``'s URL when its process is alive and holds the data dir's lock — no HTTP.

    The caller talks to it straight away (a refused connection sends it back to
    ``find_running``); a record left by a crashed server is never trusted, so a session token
    never goes to whatever took over its port.
    """
    recorded = read_server_json(data_dir)
    if not recorded or not recorded.get("url"):
        return None
    pid = int(recorded.get("pid") or 0)
    try:
        if pid <= 0:
            return None
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return None
    return str(recorded["url"]) if lock_held(data_dir) else None


def find_running(data_dir: Path) -> ServerInfo | None:
    recorded = read_server_json(data_dir)
    if not recorded or not recorded.get("url"):
        return None
    health = probe(str(recorded["url"]))
    if health is None:
        return None
    return ServerInfo(
        url=str(recorded["url"]),
        pid=int(recorded.get("pid") or 0),
        version=str(health.get("version", "")),
        setup_required=bool(health.get("setup_required")),
    )


def _last_log_line(data_dir: Path) -> str:
    try:
        lines = log_path(data_dir).read_text("utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def last_port(data_dir: Path) -> int | None:
    """The port the data dir's server listened on last (its ``last-port`` file), if any."""
    try:
        port = int((data_dir / "last-port").read_text("ascii").strip())
    except (OSError, ValueError):
        return None
    return port if 0 < port < 65536 else None


def preferred_ports(data_dir: Path) -> list[int]:
    """Where a started server should listen, best first: its last port, 7420, then any.

    The server binds the first one free itself (with ``SO_REUSEADDR``, so the sockets a killed
    server left in ``TIME_WAIT`` do not push it elsewhere); a probe here could not know.
    """
    last = last_port(data_dir)
    return list(dict.fromkeys([*([last] if last else []), DEFAULT_PORT, 0]))


def server_argv(data_dir: Path, host: str, port: int | None) -> list[str]:
    """``python -m codality_server`` for the data dir, on ``port`` or the preferred ports."""
    argv = [sys.executable, "-m", "codality_server", "--data-dir", str(data_dir), "--host", host]
    for each in preferred_ports(data_dir) if port is None else [port]:
        argv += ["--port", str(each)]
    return argv


def spawn(data_dir: Path, host: str, port: int | None) -> subprocess.Popen[bytes]:
    """Start the server detached: its own session, output to the log."""
    import subprocess

    argv = server_argv(data_dir, host, port)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    log = log_path(data_dir)
    log.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with log.open("ab") as out:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )


def start_timeout() -> float:
    """``CODALITY_START_TIMEOUT`` (seconds) for slow machines; 5 s otherwise."""
    with contextlib.suppress(ValueError):
        return float(os.environ.get("CODALITY_START_TIMEOUT", START_TIMEOUT_S))
    return START_TIMEOUT_S


def start(data_dir: Path, host: str = "127.0.0.1", port: int | None = None) -> ServerInfo:
    """Spawn a detached server and wait until it answers; a clear error naming the log otherwise.

    Without a ``port`` the server comes back where it listened last (else on 7420, else
    anywhere), so the address its clients know stays valid from one start to the next;
    ``server.json`` always says where it really listens.
    """
    process = spawn(data_dir, host, port)
    deadline = time.monotonic() + start_timeout()
    while time.monotonic() < deadline:
        info = find_running(data_dir)
        if info is not None:
            # Reaped by nobody else: forget it so no "still running" warning fires at exit.
            process.returncode = 0
            return info
        if process.poll() is not None and not lock_held(data_dir):
            break
        time.sleep(0.05)
    else:
        process.returncode = 0
    detail = _last_log_line(data_dir)
    raise CliError(
        f"the local server did not start; see {log_path(data_dir)}"
        + (f" (last line: {detail})" if detail else ""),
        ExitCode.UNREACHABLE,
    )


def locate(data_dir: Path) -> str | None:
    """Where the data dir's server listens now — started again when none runs — or None.

    Clients that lost their connection ask this before every new try: a server restarted
    meanwhile may listen elsewhere, and one that died is brought back. While some server holds
    the data dir's lock (one restarting, or one another client is starting) it is waited for,
    never raced.
    """
    deadline = time.monotonic() + start_timeout()
    while lock_held(data_dir):
        url = recorded_url(data_dir)
        if url is not None or time.monotonic() > deadline:
            return url
        time.sleep(0.05)
    try:
        return start(data_dir).url
    except CliError:
        return None


def stop(data_dir: Path, timeout: float = STOP_TIMEOUT_S) -> bool:
    """SIGTERM the data dir's server and wait until its lock is free; False when none ran."""
    recorded = read_server_json(data_dir) or {}
    pid = int(recorded.get("pid") or 0)
    if not lock_held(data_dir) or pid <= 0:
        return False
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not lock_held(data_dir):
            return True
        time.sleep(0.05)
    raise CliError(
        f"the server (pid {pid}) did not stop within {timeout:.0f} s; see {log_path(data_dir)}",
        ExitCode.ERROR,
    )
