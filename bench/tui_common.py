"""Shared set-up of the TUI benches: a real server on loopback (in a thread, so a bench can also
publish straight onto its bus, as the agent runtime does), signed in, with one project."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # ``tests`` as a package


@dataclass
class BenchServer:
    url: str
    token: str
    slug: str
    project_id: int
    loop: asyncio.AbstractEventLoop
    app: Any

    def client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def publish_soon(self, type_: str, channels: list[str], data: dict[str, Any]) -> None:
        """Publish on the server's bus from any thread; ``data`` is completed to the catalogue's
        payload as the tests do (``agent:*`` events get session 1)."""
        from codality_server.http.keys import BUS
        from tests.conftest import payload

        self.loop.call_soon_threadsafe(self.app[BUS].publish, payload(type_, data), channels)


def _repo(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "start"]):
        subprocess.run(
            ["git", "-c", "user.name=Bench", "-c", "user.email=bench@example.com", *args],
            cwd=repo,
            check=True,
        )
    return repo


def start() -> BenchServer:
    """A server in a daemon thread with a fresh data dir, an admin session and a project."""
    from serving import serve, setup_token

    from codality_server.app import create_app
    from codality_server.settings import ServerSettings

    logging.getLogger("codality").setLevel(logging.ERROR)  # no setup-code banner in the output
    root = Path(tempfile.mkdtemp(prefix="codality-tui-bench-"))
    data_dir = root / "data"
    data_dir.mkdir(mode=0o700)
    ready = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()

        async def main() -> None:
            app = create_app(ServerSettings(data_dir=data_dir, port=0, keyring=False))
            _, url = await serve(app)
            box.update(loop=loop, app=app, url=url)
            ready.set()
            await asyncio.Event().wait()

        loop.run_until_complete(main())

    threading.Thread(target=run, daemon=True).start()
    ready.wait(30)
    token = setup_token(box["url"], data_dir)
    headers = {"Authorization": f"Bearer {token}"}
    body = {"mode": "existing", "path": str(_repo(root))}
    project = httpx.post(f"{box['url']}/api/projects", json=body, headers=headers).json()
    return BenchServer(box["url"], token, project["slug"], project["id"], box["loop"], box["app"])
