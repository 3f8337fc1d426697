"""CLI start-up cost, measured against bare Python in the same run.

Goals: ``codality --help`` ≤ 4× ``python -c pass`` (issue 3); every read command — ``ticket
list --json``, ``ticket view``, ``ticket status``, ``ticket diff --stat``, ``ticket runs``,
``queue show``, ``plan show`` — and ``codality __complete tickets`` (what TAB after ``ticket
show`` runs) ≤ 3× against a warm local server (issue 21). They run the way a user runs them:
from inside the project's repository, with the machine's own credential store (no
``CODALITY_NO_KEYRING``), output piped. The data is ``codality demo``'s: a plan, a queue and two
tickets the scripted model worked on, so every command has something real to show.
Run: ``.venv/bin/python bench/cli_startup.py [--runs N]``. It uses a throw-away home and data
dir, signs out (a keyring entry, if one was made) and stops its server at the end.

Each figure is the median wall time, then the median CPU time (user + system) of the child:
on a busy shared machine the CPU time is the steadier of the two.

Last run (21 runs, load average 0.9 before and 1.0 after, this 2-core machine otherwise idle):

| command | wall ms | ratio | cpu ms | ratio |
|---|---|---|---|---|
| python -c pass | 22.7 | 1.0x | 22.3 | 1.0x |
| codality --help | 25.8 | 1.1x | 25.3 | 1.1x |
| ticket list --json | 58.9 | 2.6x | 57.6 | 2.6x |
| ticket view 2 | 60.5 | 2.7x | 57.8 | 2.6x |
| ticket status 1 | 59.1 | 2.6x | 57.4 | 2.6x |
| ticket diff 1 --stat | 65.9 | 2.9x | 58.5 | 2.6x |
| ticket runs 1 | 59.8 | 2.6x | 57.8 | 2.6x |
| queue show 1 | 58.0 | 2.6x | 56.2 | 2.5x |
| plan show 1 | 58.6 | 2.6x | 57.0 | 2.6x |
| __complete tickets | 58.1 | 2.6x | 57.0 | 2.5x |

Under load the wall figures mean little: with the full test suite running beside it (load 5)
the same commands took 3.6-4.7x wall (the server waits for a core) and 2.5-2.8x CPU.
``codality --version`` is served without the framework too (180 ms before, 20 ms now).

``ticket diff --stat`` was the one over 3x (3.2x wall in the previous session): its imports are
the other read commands' (``-X importtime``), but the server answered ``diff/stats`` in 15 ms
against 1-2 ms for the others — three git processes (``ls-files`` checking the index, ``status``,
``diff-index``). An unchanged index's check is now remembered and a clean worktree is diffed as
its commits: one ``git status``, 5 ms.
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


READ_COMMANDS = [
    ["ticket", "list", "--json"],
    ["ticket", "view", "2"],
    ["ticket", "status", "1"],
    ["ticket", "diff", "1", "--stat"],
    ["ticket", "runs", "1"],
    ["queue", "show", "1"],
    ["plan", "show", "1"],
    ["__complete", "tickets"],
]
READ_GOAL = 3


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
        env.pop("CODALITY_PROJECT", None)
        subprocess.run([*codality, "demo"], env=env, check=True, capture_output=True)
        env["CODALITY_DATA_DIR"] = str(root / "data" / "demo")  # where the demo keeps its data
        repo = root / "data" / "demo" / "sample-repo"
        try:
            for words in READ_COMMANDS:  # warm: signed in, the project's path remembered
                subprocess.run(
                    [*codality, *words], cwd=repo, env=env, check=True, capture_output=True
                )
            figures = medians(
                [
                    ([sys.executable, "-c", "pass"], None),
                    ([*codality, "--help"], None),
                    *(([*codality, *words], repo) for words in READ_COMMANDS),
                ],
                runs,
                env,
            )
        finally:
            subprocess.run([*codality, "logout"], env=env, capture_output=True)
            subprocess.run([*codality, "server", "stop"], env=env, capture_output=True)
    bare = figures[0]
    rows = [
        ("python -c pass", None),
        ("codality --help", 4),
        *((f"codality {' '.join(words)}", READ_GOAL) for words in READ_COMMANDS),
    ]
    print(f"{'':34}{'wall ms':>9}{'ratio':>8}{'cpu ms':>9}{'ratio':>8}")
    for (name, goal), (wall, cpu) in zip(rows, figures, strict=True):
        line = f"{name:34}{wall:9.1f}{wall / bare[0]:7.1f}x{cpu:9.1f}{cpu / bare[1]:7.1f}x"
        print(line + (f"  (goal <= {goal}x)" if goal else ""))


if __name__ == "__main__":
    main()
