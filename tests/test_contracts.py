"""Repository-wide contracts: layer boundaries, lint, and README's commands match CI."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_import_layers_hold() -> None:
    result = run(str(BIN / "lint-imports"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean() -> None:
    check = run(str(BIN / "ruff"), "check", "codality_server", "codality_cli", "tests", "bench")
    assert check.returncode == 0, check.stdout
    fmt = run(
        str(BIN / "ruff"), "format", "--check", "codality_server", "codality_cli", "tests", "bench"
    )
    assert fmt.returncode == 0, fmt.stdout


def test_mypy_strict_is_clean(tmp_path: Path) -> None:
    packages = ["codality_server", "codality_cli", "tests", "bench"]
    result = run(str(BIN / "mypy"), "--cache-dir", str(tmp_path / "cache"), *packages)
    assert result.returncode == 0, result.stdout


def test_ci_runs_readmes_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    assert blocks[0].rstrip().endswith("codality demo"), "the first command must end in the demo"
    test_command = blocks[1].strip()
    assert "pytest" in test_command
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci.splitlines()
