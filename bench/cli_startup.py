"""CLI start-up cost, measured against bare Python in the same run.

Goals (issues 3 and 9): ``codality --help`` ≤ 4× ``python -c pass``; ``codality ticket list
--json`` against a warm local server ≤ 6×, found the way a user runs it: from inside the
project's repository, with the machine's own credential store (no ``CODALITY_NO_KEYRING``);
``codality __complete tickets`` (what TAB after ``ticket show`` runs) ≤ 6× as well.
Run: ``.venv/bin/python bench/cli_startup.py [--runs N]``. It uses a throw-away home, data dir
and repository, signs out (a keyring entry, if one was made) and stops its server at the end.

Each figure is the median wall time, then the median CPU time (user + system) of the child:
on a busy shared machine the CPU time is the steadier of the two.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_run(argv: list[str], env: dict[str, str], cwd: Path | None) -> tuple[float, float]:
    """Wall and CPU (user + system) milliseconds of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True)
    wall = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu * 1000


def medians(
    commands: list[tuple[list[str], Path | None]], runs: int, env: dict[str, str]
) -> list[tuple[float, float]]:
    """Median wall and CPU ms of each command; the commands take turns, run after run, so a
    machine that gets busier or quieter meanwhile weighs on all of them alike."""
    samples: list[list[tuple[float, float]]] = [[] for _ in commands]
    for _ in range(runs):
        for taken, (argv, cwd) in zip(samples, commands, strict=True):
            taken.append(one_run(argv, env, cwd))
    return [
        (statistics.median(w for w, _ in taken), statistics.median(c for _, c in taken))
        for taken in samples
    ]


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
        }
        env.pop("CODALITY_NO_KEYRING", None)
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
            subprocess.run([*codality, "ticket", "list"], cwd=repo, env=env, capture_output=True)
            bare, help_ms, listing, completing = medians(
                [
                    ([sys.executable, "-c", "pass"], None),
                    ([*codality, "--help"], None),
                    ([*codality, "ticket", "list", "--json"], repo),
                    ([*codality, "__complete", "tickets"], repo),
                ],
                runs,
                env,
            )
        finally:
            subprocess.run([*codality, "logout"], env=env, capture_output=True)
            subprocess.run([*codality, "server", "stop"], env=env, capture_output=True)
    rows = [
        ("python -c pass", bare, None),
        ("codality --help", help_ms, 4),
        ("codality ticket list --json", listing, 6),
        ("codality __complete tickets", completing, 6),
    ]
    print(f"{'':32}{'wall ms':>9}{'ratio':>8}{'cpu ms':>9}{'ratio':>8}")
    for name, (wall, cpu), goal in rows:
        line = f"{name:32}{wall:9.1f}{wall / bare[0]:7.1f}x{cpu:9.1f}{cpu / bare[1]:7.1f}x"
        print(line + (f"  (goal <= {goal}x)" if goal else ""))


if __name__ == "__main__":
    main()
