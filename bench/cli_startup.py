"""CLI start-up cost, measured against bare Python in the same run.

Goals (issue 3): ``codality --help`` ≤ 4× ``python -c pass``; ``codality ticket list --json``
against a warm local server ≤ 6×. Run: ``.venv/bin/python bench/cli_startup.py [--runs N]``.
It uses a throw-away data dir and repository, and stops the server it started at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def median_ms(argv: list[str], runs: int, env: dict[str, str], cwd: Path | None = None) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    runs = parser.parse_args().runs
    codality = [sys.executable, "-m", "codality_cli"]
    with tempfile.TemporaryDirectory(prefix="codality-bench-cli-") as folder:
        root = Path(folder)
        env = {
            **os.environ,
            "HOME": str(root),
            "XDG_CONFIG_HOME": str(root / "config"),
            "CODALITY_DATA_DIR": str(root / "data"),
            "CODALITY_NO_KEYRING": "1",
        }
        repo = root / "repo"
        repo.mkdir()
        who = {"NAME": "Bench", "EMAIL": "bench@example.com"}
        git_env = {
            **env,
            **{f"GIT_{role}_{k}": v for role in ("AUTHOR", "COMMITTER") for k, v in who.items()},
        }
        for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "x"]):
            subprocess.run(["git", *args], cwd=repo, env=git_env, check=True)
        subprocess.run(
            [*codality, "project", "create", "--path", "."], cwd=repo, env=env, check=True
        )
        for n in range(20):
            subprocess.run(
                [*codality, "ticket", "create", f"Ticket {n}", "-d", "body"],
                cwd=repo, env=env, check=True, capture_output=True,
            )  # fmt: skip
        try:
            bare = median_ms([sys.executable, "-c", "pass"], runs, env)
            help_ms = median_ms([*codality, "--help"], runs, env)
            listing = median_ms([*codality, "ticket", "list", "--json"], runs, env, repo)
        finally:
            subprocess.run([*codality, "server", "stop"], env=env, capture_output=True)
    print(f"python -c pass                  {bare:7.1f} ms")
    print(f"codality --help                 {help_ms:7.1f} ms  ({help_ms / bare:.1f}x, goal <= 4x)")
    print(f"codality ticket list --json     {listing:7.1f} ms  ({listing / bare:.1f}x, goal <= 6x)")


if __name__ == "__main__":
    main()
