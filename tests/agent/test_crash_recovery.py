"""kill -9 of the server in the middle of a run, then a restart: nothing seen is lost."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.anthropic_server import FakeAnthropic, tool

from .conftest import IN_CI

# Unique per test process: other runs of this suite on the machine must not be mistaken for ours.
MARKER = f"sleep 47.{os.getpid()}"


def spawn(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    (data_dir / "server.json").unlink(missing_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "codality_server", "--data-dir", str(data_dir), "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        info = data_dir / "server.json"
        if info.exists():
            try:
                url = json.loads(info.read_text())["url"]
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    return process, url
            except (ValueError, KeyError, httpx.HTTPError):
                pass
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the server did not start")


def sandboxed_sleepers(marker: str = MARKER, under: int | None = None) -> list[int]:
    """Processes whose command line holds ``marker`` (a test's unmistakable sleep) and, with
    ``under``, that descend from that process: other test runs on the machine (other worktrees
    run the same tests) must not be mistaken for this one's."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if marker in cmdline and (under is None or descends(int(entry.name), under)):
                found.append(int(entry.name))
    return found


def descends(pid: int, ancestor: int) -> bool:
    """Whether ``ancestor`` is among ``pid``'s parents (read from /proc)."""
    while pid > 1:
        try:
            fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return False
        pid = int(fields[1])  # the parent's pid follows the state letter
        if pid == ancestor:
            return True
    return False


def alive(pids: list[int], marker: str = MARKER) -> list[int]:
    """Those of ``pids`` still running ``marker``'s command: a zombie has an empty command line,
    and the suite starts so many processes that a dead sleeper's pid is soon someone else's."""
    running = []
    for pid in pids:
        try:
            cmdline = (Path("/proc") / str(pid) / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline.replace(b"\0", b" "):
            running.append(pid)
    return running


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic().start()
    yield fake
    fake.stop()


def wait_until(check: Any, timeout: float = 45) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def first_event(api: httpx.Client, channel: str, wanted: str) -> dict[str, Any]:
    """The first ``wanted`` event on ``channel`` in the server's replay ring, over real SSE."""
    from httpx_sse import connect_sse

    params = {"channel": channel}
    with connect_sse(
        api, "GET", "/api/events", params=params, headers={"Last-Event-ID": "0"}
    ) as source:
        for sse in source.iter_sse():
            if sse.data and sse.json()["type"] == wanted:
                return dict(sse.json()["data"])
    raise AssertionError(f"the stream ended before {wanted}")


def test_kill_9_mid_run_then_restart_marks_the_session_interrupted(
    tmp_path: Path, git_repo: Path, fake: FakeAnthropic
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    fake.script(tool("bash", say="Running the slow part.", command=MARKER))
    process, url = spawn(data_dir)
    try:
        code = (data_dir / "setup-code").read_text().strip()
        token = httpx.post(
            f"{url}/api/setup/verify", json={"code": code, "email": "a@example.com"}
        ).json()["token"]
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        env = {"ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": fake.url}
        assert api.put("/api/settings/env", json=env).status_code == 200
        slug = api.post("/api/projects", json={"mode": "existing", "path": str(git_repo)}).json()[
            "slug"
        ]
        api.post(f"/api/projects/{slug}/tickets", json={"title": "Slow"})
        base = f"/api/projects/{slug}/tickets/1/agent"
        session = api.post(f"{base}/start").json()
        sleepers = wait_until(lambda: sandboxed_sleepers(under=process.pid))
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)

    # Under bubblewrap the whole tool dies with the server; under Landlock only its shell, so
    # clean up what is left.
    if session["sandbox"] == "bubblewrap":
        wait_until(lambda: not alive(sleepers), timeout=15)
    for pid in alive(sleepers):
        os.kill(pid, signal.SIGKILL)
    installed = shutil.which("bwrap") is not None or IN_CI
    assert session["sandbox"] == ("bubblewrap" if installed else "landlock")

    process, url = spawn(data_dir)
    try:
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        status = api.get(f"{base}/status").json()
        assert status["running"] is False
        assert status["session"]["id"] == session["id"]
        assert status["session"]["status"] == "interrupted"
        stored = api.get(f"{base}/sessions/{session['id']}").json()["transcript"]
        kinds = [block["kind"] for block in stored]
        assert kinds[:4] == ["preparing", "prompt", "text", "tool_call"]
        assert stored[3]["data"]["input"] == {"command": MARKER}
        ticket = api.get(f"/api/projects/{slug}/tickets/1").json()
        assert ticket["agent_status"] == "interrupted"
        # Whoever watches the ticket is told the session ended, so `ticket watch` never hangs.
        stopped = first_event(api, f"ticket:{ticket['id']}", "agent:stopped")
        assert stopped["session_id"] == session["id"] and stopped["status"] == "interrupted"
        assert Path(ticket["worktree_path"]).is_dir()  # worktrees are kept
        # and a new run can start on the same ticket, reusing the worktree
        fake.script()
        assert api.post(f"{base}/start").status_code == 202
        wait_until(lambda: api.get(f"{base}/status").json()["session"]["status"] == "completed")
    finally:
        process.terminate()
        process.wait(10)
