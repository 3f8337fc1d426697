"""What one diff answer renders, over HTTP against real repositories: a file whose patch passes
``FILE_PATCH_LIMIT`` is listed with its counts but not its text, and once the patch reaches
``DIFF_PATCH_LIMIT`` the files after are listed the same way. The counts are checked against
``git diff --numstat``, the text shown by applying it with ``git apply``."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from codality_server.git.diff import DIFF_PATCH_LIMIT, FILE_PATCH_LIMIT
from tests.conftest import RunningServer, git
from tests.server.test_merge import ticket_with_work, url


def lines_of(count: int, width: int = 99) -> str:
    """``count`` distinct lines of ``width`` characters and a newline each."""
    return "".join(f"{i:08d} {'x' * (width - 9)}\n" for i in range(count))


def agent_commits(worktree: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (worktree / name).parent.mkdir(parents=True, exist_ok=True)
        (worktree / name).write_text(text)
    git(worktree, "add", "-A")
    git(worktree, "commit", "-q", "-m", "the agent's work")


def numstat(repo: Path, base: str, branch: str) -> dict[str, tuple[int, int]]:
    found = git(repo, "diff", "--numstat", base, branch)
    return {
        row.split("\t")[2]: (int(row.split("\t")[0]), int(row.split("\t")[1]))
        for row in found.splitlines()
    }


def patched_paths(patch: str) -> list[str]:
    return [line.split(" b/")[-1] for line in patch.splitlines() if line.startswith("diff --git")]


def apply_on(repo: Path, base: str, patch: str, where: Path) -> Path:
    """The base checked out elsewhere with the patch applied by the real ``git apply``."""
    git(repo, "worktree", "add", "-q", "--detach", str(where), base)
    subprocess.run(["git", "apply", "-"], cwd=where, input=patch, text=True, check=True)
    return where


@pytest.fixture
async def ticket(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any], tmp_path: Path
) -> dict[str, Any]:
    return await ticket_with_work(server, api, project, tmp_path)


@pytest.mark.parametrize(
    "huge_lines",
    [3 * FILE_PATCH_LIMIT // 100, FILE_PATCH_LIMIT // 200],
    ids=["over-the-file-limit", "control-below-it"],
)
async def test_a_huge_file_is_counted_not_rendered_beside_a_normal_one_in_full(
    huge_lines: int,
    api: httpx.AsyncClient,
    project: dict[str, Any],
    ticket: dict[str, Any],
    tmp_path: Path,
) -> None:
    """The agent commits 3 MB of lines (31,457) beside a small module: the diff answer lists
    the big file with its counts as too large to show, and shows the module in full. The
    control commits 512 KB the same way: every file is shown."""
    repo, worktree = Path(project["path"]), Path(ticket["worktree_path"])
    module = "def farewell(name):\n    return f'bye {name}'\n"
    agent_commits(worktree, {"data/huge.txt": lines_of(huge_lines), "src/farewell.py": module})

    shown = (await api.get(url(project, ticket, "diff?committed=1"))).json()
    stats = (await api.get(url(project, ticket, "diff/stats?committed=1"))).json()

    expected = numstat(repo, shown["base"], ticket["branch"])
    assert expected["data/huge.txt"] == (huge_lines, 0)
    assert {f["path"]: (f["insertions"], f["deletions"]) for f in stats["files"]} == expected
    assert stats["files_changed"] == 4 == len(expected)
    assert stats["insertions"] == sum(i for i, _ in expected.values())
    copy = apply_on(repo, shown["base"], shown["diff"], tmp_path / "applied")
    assert (copy / "src" / "farewell.py").read_text() == module
    assert (copy / "src" / "app.py").read_text() == (worktree / "src" / "app.py").read_text()
    if huge_lines * 100 > FILE_PATCH_LIMIT:
        assert patched_paths(shown["diff"]) == ["notes.md", "src/app.py", "src/farewell.py"]
        assert shown["not_shown"] == [
            {
                "path": "data/huge.txt",
                "status": "added",
                "binary": False,
                "insertions": huge_lines,
                "deletions": 0,
                "reason": "file_too_large",
                "message": "its diff is larger than the 1.0 MB shown of one file",
            }
        ]
        assert len(shown["diff"]) < 4096 and not (copy / "data" / "huge.txt").exists()
    else:
        assert shown["not_shown"] == []
        assert patched_paths(shown["diff"]) == sorted(expected)
        assert (copy / "data" / "huge.txt").read_text() == lines_of(huge_lines)


@pytest.mark.parametrize("bulk_files", [9, 8], ids=["past-the-total", "control-within-it"])
async def test_rendering_stops_once_the_diff_reaches_its_total(
    bulk_files: int,
    api: httpx.AsyncClient,
    project: dict[str, Any],
    ticket: dict[str, Any],
    tmp_path: Path,
) -> None:
    """Files each under the per-file limit (about 0.93 MB of patch each): 9 of them pass the
    8 MB one answer shows, so the 9th and every file after it (``notes.md``, ``src/app.py``,
    ``zz.txt``) are listed with their counts and not shown; with 8 (the control) all are shown."""
    repo, worktree = Path(project["path"]), Path(ticket["worktree_path"])
    bulk = {f"bulk/{i}.txt": lines_of(9_600) for i in range(bulk_files)}
    agent_commits(worktree, {**bulk, "zz.txt": "last\n"})
    (worktree / "notes.md").write_text("uncommitted notes\n")  # committed above: now changed

    shown = (await api.get(url(project, ticket, "diff"))).json()
    stats = (await api.get(url(project, ticket, "diff/stats"))).json()

    expected = numstat(repo, shown["base"], ticket["branch"])
    assert {f["path"]: (f["insertions"], f["deletions"]) for f in stats["files"]} == expected
    assert len(shown["diff"].encode()) <= DIFF_PATCH_LIMIT
    everything = [*sorted(bulk), "notes.md", "src/app.py", "zz.txt"]
    if bulk_files == 9:
        assert patched_paths(shown["diff"]) == everything[:8]
        left_out = [(f["path"], f["reason"]) for f in shown["not_shown"]]
        assert left_out == [(path, "diff_too_large") for path in everything[8:]]
        said = shown["not_shown"][0]
        assert (said["insertions"], said["deletions"]) == (9_600, 0)
        assert said["message"] == "the files before it filled the 8.0 MB one diff shows"
    else:
        assert shown["not_shown"] == []
        assert patched_paths(shown["diff"]) == everything
        copy = apply_on(repo, shown["base"], shown["diff"], tmp_path / "applied")
        assert all((copy / path).read_text() == text for path, text in bulk.items())
