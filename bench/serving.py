"""Serving the real app on a loopback port inside a bench's own event loop, and the first sign-in.

Shared by the benches that run the server in-process (the bus can then be published to directly,
as the agent runtime does); ``tests/conftest.py`` has the test-suite's own thread-based runner.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

SMALL_FILE = {"small.txt": "".join(f"line {i}\n" for i in range(40))}


def make_repo(path: Path, files: dict[str, str] = SMALL_FILE) -> None:
    """A fresh git repository at ``path`` with ``files`` (name → text) in its one commit."""
    import subprocess

    path.mkdir()
    for name, text in files.items():
        (path / name).write_text(text)
    env = {
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@x",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@x",
        "PATH": "/usr/bin:/bin",
    }
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=path, env=env, check=True)


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Start ``app`` on a free loopback port; returns its runner (to clean up) and base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


def setup_token(url: str, data_dir: Path) -> str:
    """Finish first-time setup with the data dir's setup code; returns the admin's token."""
    code = (data_dir / "setup-code").read_text().strip()
    reply = httpx.post(f"{url}/api/setup/verify", json={"code": code, "email": "bench@example.com"})
    reply.raise_for_status()
    return str(reply.json()["token"])


@asynccontextmanager
async def agent_bench(
    turns: list[dict[str, Any]], repo: Path, data_dir: Path, settings: dict[str, Any] | None = None
) -> AsyncIterator[tuple[httpx.AsyncClient, str, web.Application]]:
    """A scripted model and a signed-in server whose agent uses it, with ``repo`` as a project.

    Yields the admin's client, the project's slug and the scripted model's app (its requests).
    """
    from codality_server.app import create_app
    from codality_server.scripted.server import create_app as create_model
    from codality_server.settings import ServerSettings

    model = create_model(turns)
    model_runner, model_url = await serve(model)
    server_runner, url = await serve(
        create_app(ServerSettings(data_dir=data_dir, port=0, keyring=False))
    )
    try:
        async with httpx.AsyncClient(base_url=url, timeout=60) as api:
            # Signed in with this loop's client: the server runs on this very loop.
            code = (data_dir / "setup-code").read_text().strip()
            signed = await api.post("/api/setup/verify", json={"code": code, "email": "b@x.io"})
            api.headers["Authorization"] = f"Bearer {signed.json()['token']}"
            env = {"ANTHROPIC_API_KEY": "bench", "ANTHROPIC_BASE_URL": model_url}
            (await api.put("/api/settings/env", json=env)).raise_for_status()
            if settings:
                (await api.put("/api/settings", json=settings)).raise_for_status()
            made = await api.post("/api/projects", json={"mode": "existing", "path": str(repo)})
            made.raise_for_status()
            yield api, str(made.json()["slug"]), model
    finally:
        await server_runner.cleanup()
        await model_runner.cleanup()
