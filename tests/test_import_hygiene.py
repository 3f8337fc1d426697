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
