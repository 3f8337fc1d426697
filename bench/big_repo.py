"""A ticket's git work on a big repository, beside git doing the same work in the same run
(issue 21): the worktree made for a run, the end-of-turn commit of one changed file, the ticket's
diff with uncommitted work, the merge, the discard, and ``agent/start`` answering.

Each size runs in a child process of its own, so its peak RSS is the Codality side's alone (the
functions the services run, then a real server with the fake model for ``agent/start``). The
repository is streamed to ``git fast-import`` (200,000 files in about a minute here) and checked
out: that checkout is the user's, which merges update. Each step runs once by git and once by
Codality per run, the order alternating by run (git always merges first, so both merges are
three-way); figures are medians; the load average is taken before and after.

Goals: start answers within 200 ms; worktree, commit, diff, merge and discard each <= 2x git;
peak RSS flat in the number of files (<= 300 MB at 200,000); a one-file turn commits in about
the same time at 5,000 and 200,000 files.

    python bench/big_repo.py [--files 50000 200000] [--runs 3]
    python bench/big_repo.py --turn [--runs 5]       # one-file turn, 5,000 vs 200,000 files

The steps, what each option tried measured and the figures now: ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PER_DIR = 50
WHO = ["-c", "user.name=Bench", "-c", "user.email=bench@example.com"]
AUTHOR = ("Bench", "bench@example.com")
STEPS = ("worktree", "commit", "diff", "merge", "discard")
GIT_STEP = {
    "worktree": "git worktree add",
    "commit": "git add -A && git commit",
    "diff": "git diff main",
    "merge": "git merge --no-ff",
    "discard": "git worktree remove --force && git branch -D",
}


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout


def make_repository(root: Path, files: int) -> Path:
    """``files`` small files, 50 a folder, in one commit streamed to ``git fast-import`` (no
    file written twice, no object hashed in Python), then checked out: the user's checkout of
    ``main`` that merges update."""
    repo = root / "repo"
    git(root, "init", "-q", "-b", "main", str(repo))
    stream = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=repo, stdin=subprocess.PIPE)
    assert stream.stdin is not None
    stream.stdin.write(b"commit refs/heads/main\n")
    stream.stdin.write(b"committer Bench <bench@example.com> 1700000000 +0000\ndata 4\ninit\n")
    for first in range(0, files, 10_000):
        chunk = []
        for number in range(first, min(first + 10_000, files)):
            body = b"VALUE = %d\n" % number
            name = b"pkg%05d/mod%02d.py" % (number // PER_DIR, number % PER_DIR)
            chunk.append(b"M 100644 inline %s\ndata %d\n%s\n" % (name, len(body), body))
        stream.stdin.write(b"".join(chunk))
    stream.stdin.close()
    if stream.wait() != 0:
        raise RuntimeError("git fast-import failed")
    git(repo, "reset", "-q", "--hard", "main")
    return repo


def timed(step: Callable[..., object], *args: object) -> float:
    start = time.perf_counter()
    step(*args)
    return (time.perf_counter() - start) * 1000


def touch(worktree: Path, folder: int, module: int, text: str) -> None:
    (worktree / f"pkg{folder:05}" / f"mod{module:02}.py").write_text(f"VALUE = {text!r}\n")
    time.sleep(0.05)  # not racily clean for either side


def git_commit(worktree: Path) -> None:
    git(worktree, "add", "-A")
    git(worktree, *WHO, "commit", "-qm", "x")


def git_discard(repo: Path, worktree: Path, branch: str) -> None:
    git(repo, "worktree", "remove", "--force", str(worktree))
    git(repo, "branch", "-D", branch)


def pair(
    figures: dict[str, list[float]],
    step: str,
    run: int,
    theirs: Callable[[], float],
    ours: Callable[[], float],
) -> None:
    """One repetition of a step by git and by Codality, the order alternating by run."""
    sides = [("git_" + step, theirs), (step, ours)]
    for name, side in sides if run % 2 == 0 else reversed(sides):
        figures[name].append(side())


def one_run(repo: Path, work: Path, run: int, figures: dict[str, list[float]]) -> None:
    """Each step by git in its worktree and by Codality in its own, side by side. The two
    sides change different files, so both merges are clean three-way merges (git merges
    first: main has then moved on for Codality's merge too)."""
    from codality_server.git.diff import branch_diff, commit_diff
    from codality_server.git.merge import keep_branch_tip, merge_branch
    from codality_server.git.worktrees import commit_all, create_worktree, remove_worktree

    theirs, ours = work / f"git-{run}", work / f"ours-{run}"
    their_branch, branch = f"g/{run}", f"bench/{run}"
    pair(
        figures,
        "worktree",
        run,
        lambda: timed(git, repo, "worktree", "add", "-q", "-b", their_branch, str(theirs)),
        lambda: timed(create_worktree, repo, ours, branch, "main"),
    )
    touch(theirs, 2 * run, 0, "git work")
    touch(ours, 2 * run + 1, 1, "our work")
    pair(
        figures,
        "commit",
        run,
        lambda: timed(git_commit, theirs),
        lambda: timed(commit_all, repo, ours, branch, "x", AUTHOR),
    )
    touch(theirs, 2 * run, 2, "more git work")
    touch(ours, 2 * run + 1, 3, "more of our work")
    pair(
        figures,
        "diff",
        run,
        lambda: timed(git, theirs, "diff", "main"),
        lambda: timed(branch_diff, repo, branch, "main", ours),
    )
    git_commit(theirs)
    commit_all(repo, ours, branch, "x", AUTHOR)

    def merge_ours() -> None:
        outcome = merge_branch(repo, branch, "main", "merge", "Merge", AUTHOR)
        assert outcome.kind == "merge_commit", outcome
        commit_diff(repo, outcome.before, outcome.after)  # kept with the ticket, as merging does

    figures["git_merge"].append(
        timed(git, repo, *WHO, "merge", "-q", "--no-ff", "-m", "m", their_branch)
    )
    figures["merge"].append(timed(merge_ours))

    def discard_ours() -> None:  # the discard's steps: commit what is left, keep the tip, remove
        commit_all(repo, ours, branch, "x", AUTHOR)
        keep_branch_tip(repo, branch, f"bench-{run}")
        remove_worktree(repo, ours, branch)

    pair(
        figures,
        "discard",
        run,
        lambda: timed(git_discard, repo, theirs, their_branch),
        lambda: timed(discard_ours),
    )


def measure_size(files: int, runs: int) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="codality-bench-big-"))
    try:
        made = time.perf_counter()
        repo = make_repository(work, files)
        setup_s = time.perf_counter() - made
        load_before = os.getloadavg()[0]
        figures: dict[str, list[float]] = {}
        for step in STEPS:
            figures[step], figures["git_" + step] = [], []
        for run in range(runs):
            one_run(repo, work, run, figures)
        start = measure_start(work, repo)
        medians = {k: round(statistics.median(v), 1) for k, v in figures.items()}
        ratios = {
            f"{step}_ratio": round(medians[step] / medians["git_" + step], 2) for step in STEPS
        }
        return {
            "files": files,
            "setup_s": round(setup_s, 1),
            **{f"{k}_ms": v for k, v in medians.items()},
            **ratios,
            **start,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            "load": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure_turn(files: int, runs: int) -> dict[str, object]:
    """A one-file turn's commit, ``runs`` times, beside git's in the same repository: the
    server's commit at the end of a run, told what changed by the run's ``ChangeWatch`` (its
    start, a walk of every folder and one stat comparison, is timed apart: it runs while the
    agent works), and the commit that compares every file (as without a watch)."""
    from codality_server.git.worktrees import commit_all, create_worktree, watch_worktree

    work = Path(tempfile.mkdtemp(prefix="codality-bench-turn-"))
    try:
        repo = make_repository(work, files)
        theirs, ours = work / "git", work / "ours"
        git(repo, "worktree", "add", "-q", "-b", "g", str(theirs))
        create_worktree(repo, ours, "bench", "main")
        figures: dict[str, list[float]] = {
            "commit": [],
            "git_commit": [],
            "watch_start": [],
            "commit_unwatched": [],
        }
        for run in range(runs):
            started = time.perf_counter()
            watch = watch_worktree(repo, ours)
            figures["watch_start"].append((time.perf_counter() - started) * 1000)
            assert watch is not None and watch.gave_up is None
            try:
                touch(theirs, run, 0, f"turn {run}")
                touch(ours, run, 0, f"turn {run}")
                pair(
                    figures,
                    "commit",
                    run,
                    lambda: timed(git_commit, theirs),
                    partial(
                        timed, partial(commit_all, watch=watch), repo, ours, "bench", "turn", AUTHOR
                    ),
                )
            finally:
                watch.close()
            touch(ours, run, 1, f"unwatched {run}")
            figures["commit_unwatched"].append(
                timed(commit_all, repo, ours, "bench", "turn", AUTHOR)
            )
        return {
            "files": files,
            **{f"{k}_ms": round(statistics.median(v), 1) for k, v in figures.items()},
            "load": round(os.getloadavg()[0], 1),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure_start(work: Path, repo: Path) -> dict[str, float]:
    """``agent/start`` through the real server: its answer, then the model's first request."""
    import httpx

    from codality_server.settings import ServerSettings
    from tests.conftest import sign_in, start_server
    from tests.fakes.anthropic_server import FakeAnthropic, text

    fake = FakeAnthropic().start()
    fake.script(text("Nothing to do."))
    data = work / "data"
    data.mkdir(mode=0o700)
    server, thread = start_server(ServerSettings(data_dir=data, port=0, keyring=False))
    try:
        token = sign_in(server, "bench@example.com")
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=600) as client:
            env = {"ANTHROPIC_API_KEY": "sk-bench", "ANTHROPIC_BASE_URL": fake.url}
            client.put("/api/settings/env", json=env).raise_for_status()
            client.put("/api/settings", json={"sandbox": "none"}).raise_for_status()
            body = {"mode": "existing", "path": str(repo)}
            project = client.post("/api/projects", json=body).json()
            slug = project["slug"]
            ticket = client.post(f"/api/projects/{slug}/tickets", json={"title": "B"}).json()
            url = f"/api/projects/{slug}/tickets/{ticket['number']}/agent"
            began = time.perf_counter()
            client.post(f"{url}/start", json={}).raise_for_status()
            answered = time.perf_counter()
            while not fake.requests:
                time.sleep(0.01)
            asked = time.perf_counter()
            while client.get(f"{url}/status").json()["running"]:
                time.sleep(0.05)
    finally:
        server._stop.set()
        thread.join(15)
        fake.stop()
    return {
        "start_answer_ms": round((answered - began) * 1000, 1),
        "first_model_request_ms": round((asked - began) * 1000, 1),
    }


def in_child(flag: str, files: int, runs: int) -> dict[str, object]:
    """One size measured in a process of its own, so its peak RSS is that size's alone."""
    child = [sys.executable, __file__, flag, str(files), "--runs", str(runs)]
    done = subprocess.run(child, check=True, capture_output=True, text=True, env=os.environ)
    row: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, nargs="+", help="repository sizes to measure")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--turn", action="store_true", help="only a one-file turn's commit (5,000 and 200,000)"
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--one-turn", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_size(args.one, args.runs)))
        return
    if args.one_turn:
        print(json.dumps(measure_turn(args.one_turn, args.runs)))
        return
    if args.turn:
        turns = [in_child("--one-turn", n, args.runs) for n in args.files or [5_000, 200_000]]
        small, big = turns[0], turns[-1]
        print(
            f"one-file turn: {small['commit_ms']} ms at {small['files']} files,"
            f" {big['commit_ms']} ms at {big['files']} files"
            f" ({float(str(big['commit_ms'])) / float(str(small['commit_ms'])):.2f}x)"
        )
        return
    for files in args.files or [50_000, 200_000]:
        row = in_child("--one", files, args.runs)
        goals = {
            "start <= 200 ms": float(str(row["start_answer_ms"])) <= 200,
            **{f"{s} <= 2x": float(str(row[f"{s}_ratio"])) <= 2 for s in STEPS},
            "peak RSS <= 300 MB": int(str(row["peak_rss_mb"])) <= 300,
        }
        missed = [name for name, met in goals.items() if not met]
        print(f"{files} files: {'meets all' if not missed else 'misses ' + ', '.join(missed)}")


if __name__ == "__main__":
    main()
