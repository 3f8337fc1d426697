"""``GET …/tickets/{n}/diff`` on a 5,000-file repository with 50 files changed in the worktree,
beside ``git diff <merge-base>`` on the same worktree in the same run.

Goal (issue 5): the endpoint's median is at most 3x git's (git's time includes its process spawn,
the endpoint's includes HTTP, auth and two database reads). The server runs in-process on a
loopback port (as in the tests) so the ticket can be pointed at a worktree made with the git CLI.

    python bench/diff_worktree.py [--runs 30] [--dirs 100] [--files 50]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from codality_server.http.keys import SERVICES
from codality_server.settings import ServerSettings
from tests.conftest import git, sign_in, start_server

BRANCH = "codality/1-bench"


def make_repository(root: Path, dirs: int, files: int) -> Path:
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for d in range(dirs):
        folder = repo / f"pkg{d:03}"
        folder.mkdir()
        for f in range(files):
            lines = "".join(f"line {i} of file {d}/{f}\n" for i in range(40))
            (folder / f"mod{f:02}.py").write_text(lines)
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=B", "-c", "user.email=b@x", "commit", "-qm", "init")
    return repo


def change_worktree(worktree: Path, count: int) -> None:
    """One commit on the branch, then ``count`` files edited and left uncommitted."""
    (worktree / "pkg000" / "mod00.py").write_text("committed change\n")
    git(worktree, "-c", "user.name=B", "-c", "user.email=b@x", "commit", "-qam", "work")
    for i in range(count):
        path = worktree / f"pkg{i % 100:03}" / f"mod{(i // 100) + 1:02}.py"
        path.write_text(path.read_text().replace("line 20 ", f"edited line 20 ({i}) "))


def timed(fn: object, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--dirs", type=int, default=100)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--changed", type=int, default=50)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="codality-bench-diff-"))
    repo = make_repository(work, args.dirs, args.files)
    worktree = work / "wt"
    git(repo, "worktree", "add", "-q", "-b", BRANCH, str(worktree), "main")
    change_worktree(worktree, args.changed)
    # Files written in the same clock tick as the index are "racily clean" and re-hashed by both
    # sides on every call; refresh the stat cache first, as any `git status` would.
    time.sleep(0.05)
    subprocess.run(["git", "update-index", "-q", "--refresh"], cwd=worktree, check=False)
    base = git(repo, "merge-base", "main", BRANCH).strip()

    data = work / "data"
    data.mkdir(mode=0o700)
    server, thread = start_server(ServerSettings(data_dir=data, port=0, keyring=False))
    try:
        token = sign_in(server, "bench@example.com")
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client:
            project = client.post(
                "/api/projects", json={"mode": "existing", "path": str(repo)}
            ).json()
            ticket = client.post(
                f"/api/projects/{project['slug']}/tickets", json={"title": "Bench"}
            ).json()
            tickets = server.app[SERVICES].tickets
            server.call(tickets.set_worktree(ticket["id"], BRANCH, str(worktree)))
            diff_url = f"/api/projects/{project['slug']}/tickets/{ticket['number']}/diff"

            def endpoint() -> None:
                client.get(diff_url).raise_for_status()

            def baseline() -> None:
                client.get("/api/auth/me").raise_for_status()

            cold = timed(endpoint, 1)[0]
            served = timed(endpoint, args.runs)
            http_only = timed(baseline, args.runs)
            files_in_answer = client.get(diff_url + "/stats").json()["files_changed"]
    finally:
        server._stop.set()
        thread.join(15)

    def git_diff() -> None:
        subprocess.run(["git", "diff", base], cwd=worktree, check=True, capture_output=True)

    git_ms = timed(git_diff, args.runs)
    ratio = statistics.median(served) / statistics.median(git_ms)
    print(
        json.dumps(
            {
                "tracked_files": args.dirs * args.files,
                "changed_in_worktree": args.changed,
                "files_in_diff": files_in_answer,
                "endpoint_cold_ms": round(cold, 1),
                "endpoint_median_ms": round(statistics.median(served), 1),
                "endpoint_p90_ms": round(sorted(served)[int(len(served) * 0.9) - 1], 1),
                "auth_me_median_ms": round(statistics.median(http_only), 1),
                "git_diff_median_ms": round(statistics.median(git_ms), 1),
                "ratio": round(ratio, 2),
            },
            indent=2,
        )
    )
    print(f"goal <= 3x git diff: {'meets' if ratio <= 3 else 'misses'}")


if __name__ == "__main__":
    main()
