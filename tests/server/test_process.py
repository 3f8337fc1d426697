"""The server as a process: server.json, data dir layout, one server per data dir, SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import spawn_server


def test_server_process_lifecycle(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc, url = spawn_server(data)
    try:
        info = json.loads((data / "server.json").read_text())
        assert info["url"] == url and info["pid"] == proc.pid and info["version"]
        assert url.startswith("http://127.0.0.1:")
        health = httpx.get(f"{url}/healthz").json()
        assert health["status"] == "ok" and health["setup_required"] is True
        for folder in ("", "keys", "outbox", "logs", "worktrees"):
            assert (data / folder).stat().st_mode & 0o777 == 0o700, folder
        for secret in ("setup-code", "server.json"):
            assert (data / secret).stat().st_mode & 0o777 == 0o600, secret
        assert (data / "codality.db").exists()
        assert "setup code" in (data / "logs" / "server.log").read_text()

        second = subprocess.run(
            [sys.executable, "-m", "codality_server", "--data-dir", str(data), "--port", "0"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode != 0
        assert "another server already runs" in second.stderr
        assert httpx.get(f"{url}/healthz").status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    assert not (data / "server.json").exists()
