"""Serving the real app on a loopback port inside a bench's own event loop, and the first sign-in.

Shared by the benches that run the server in-process (the bus can then be published to directly,
as the agent runtime does); ``tests/conftest.py`` has the test-suite's own thread-based runner.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from aiohttp import web


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Start ``app`` on a free loopback port; returns its runner (to clean up) and base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def setup_token(url: str, data_dir: Path) -> str:
    """Finish first-time setup with the data dir's setup code; returns the admin's token."""
    code = (data_dir / "setup-code").read_text().strip()
    reply = httpx.post(f"{url}/api/setup/verify", json={"code": code, "email": "bench@example.com"})
    reply.raise_for_status()
    return str(reply.json()["token"])
