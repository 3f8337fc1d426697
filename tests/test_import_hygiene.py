"""Start-up discipline: the CLI entry point and `--help` load none of the heavy libraries.

Run in a fresh interpreter, since this test process has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FORBIDDEN = ["textual", "anthropic", "aiohttp", "dulwich", "aiosqlite", "httpx", "rich", "keyring"]
PROBE = """
import json, sys
{setup}
print(json.dumps(sorted(m for m in {forbidden!r} if m in sys.modules)))
"""


def loaded_after(setup: str) -> list[str]:
    code = PROBE.format(setup=setup, forbidden=FORBIDDEN)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout.strip().splitlines()[-1]))


def test_importing_the_entry_point_loads_nothing_heavy() -> None:
    assert loaded_after("import codality_cli.main") == []


@pytest.mark.parametrize("argv", [["--help"], ["ticket", "--help"], ["ticket", "create", "--help"]])
def test_help_loads_nothing_heavy(argv: list[str]) -> None:
    setup = (
        "from codality_cli.main import app\n"
        f"try:\n    app({argv!r}, prog_name='codality')\nexcept SystemExit:\n    pass"
    )
    assert loaded_after(setup) == []


SERVER_PROBE = """
import asyncio, json, sys, tempfile
from pathlib import Path
from aiohttp.test_utils import TestClient, TestServer
from codality_server.app import create_app
from codality_server.settings import ServerSettings

async def main():
    data = Path(tempfile.mkdtemp())
    app = create_app(ServerSettings(data_dir=data, port=0))
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/healthz")).status == 200
        code = (data / "setup-code").read_text().strip()
        signed = await client.post("/api/setup/verify", json={"code": code, "email": "a@b.c"})
        auth = {"Authorization": "Bearer " + (await signed.json())["token"]}
        hook = await client.post("/api/github/webhooks", data=b"{}",
                                 headers={"X-Hub-Signature-256": "sha256=00",
                                          "Content-Type": "application/json"})
        assert hook.status == 403, hook.status
        status = await client.get("/api/github/app/status", headers=auth)
        assert (await status.json())["configured"] is False
        assert (await client.get("/api/projects", headers=auth)).status == 200
    print(json.dumps(sorted(m for m in ("gidgethub", "jwt") if m in sys.modules)))

asyncio.run(main())
"""


def test_the_server_loads_no_github_library_until_github_is_configured() -> None:
    result = subprocess.run([sys.executable, "-c", SERVER_PROBE], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
