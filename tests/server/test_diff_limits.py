"""What one diff answer renders, over HTTP against real repositories: a file whose patch passes
``FILE_PATCH_LIMIT`` is listed with its counts but not its text, and once the patch reaches
``DIFF_PATCH_LIMIT`` the files after are listed the same way. The counts are checked against
``git diff --numstat``, the text shown by applying it with ``git apply``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from codality_server.git.diff import DIFF_PATCH_LIMIT, FILE_PATCH_LIMIT
from tests.agent.conftest import agent_url, new_ticket, wait_for_end
from tests.conftest import (
    RunningServer,
    bearer_client,
    create_project,
    git,
    sign_in,
    spawn_server,
)
from tests.fakes.anthropic_server import FakeAnthropic, text
from tests.server.test_merge import ticket_with_work, url

MB = 1024 * 1024


def lines_of(count: int, width: int = 99) -> str:
    """``count`` distinct lines of ``width`` characters and a newline each."""
    return "".join(f"{i:08d} {'x' * (width - 9)}\n" for i in range(count))


def agent_commits(worktree: Path, files: dict[str, str]) -> None:
    for name, content in files.items():
        (worktree / name).parent.mkdir(parents=True, exist_ok=True)
        (worktree / name).write_text(content)
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


async def test_the_merge_diff_keeps_the_counts_of_a_file_too_large_to_show_not_its_text(
    api: httpx.AsyncClient, project: dict[str, Any], ticket: dict[str, Any]
) -> None:
    """Merged, the 3 MB file is on main; the diff kept of the merge (stored, answered after the
    branch is gone) names it as not shown with its counts, and keeps the other files' text."""
    repo, worktree = Path(project["path"]), Path(ticket["worktree_path"])
    agent_commits(worktree, {"data/huge.txt": lines_of(31_457)})
    before = git(repo, "rev-parse", "main").strip()

    merged = await api.post(url(project, ticket, "worktree/merge"), json={})
    assert merged.status_code == 200, merged.text
    assert merged.json()["stats"]["insertions"] == 31_457 + 2

    kept = (await api.get(url(project, ticket, "merge-diff"))).json()
    stats = (await api.get(url(project, ticket, "merge-diff/stats"))).json()
    assert (repo / "data" / "huge.txt").read_text() == lines_of(31_457)
    expected = numstat(repo, before, "main")
    assert {f["path"]: (f["insertions"], f["deletions"]) for f in stats["files"]} == expected
    assert patched_paths(kept["diff"]) == ["notes.md", "src/app.py"]
    assert [(f["path"], f["insertions"], f["reason"]) for f in kept["not_shown"]] == [
        ("data/huge.txt", 31_457, "file_too_large")
    ]


def memory_kb(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith(field)))


async def test_a_huge_committed_file_costs_the_server_its_size_not_its_patch(
    tmp_path: Path, git_repo: Path, fake_anthropic: FakeAnthropic
) -> None:
    """On a server process of its own: the agent's branch holds 64 MB of lines (1.3 million).
    For the diff the server's peak (``VmHWM``, reset just before) grows by about 6 MB: the
    loose object is counted as it inflates, a MiB at a time; the answer is 344 bytes. It grew
    by 495 MB, with a 70 MB answer, when the patch was built, kept and sent whole (and by 132 MB
    with the blob read whole by dulwich, which inflates a loose object and then copies it)."""
    data_dir = tmp_path / "own-data"
    data_dir.mkdir(mode=0o700)
    proc, server_url = spawn_server(data_dir)
    try:
        token = sign_in(SimpleNamespace(url=server_url, data_dir=data_dir))  # type: ignore[arg-type]
        async with bearer_client(server_url, token) as api:
            env = {"ANTHROPIC_API_KEY": "sk-test-key", "ANTHROPIC_BASE_URL": fake_anthropic.url}
            assert (await api.put("/api/settings/env", json=env)).is_success
            project = await create_project(api, git_repo)
            fake_anthropic.script(text("Done."))
            ticket = await new_ticket(api, project["slug"])
            started = await api.post(agent_url(project, ticket, "start"), json={})
            assert started.status_code == 202, started.text
            await wait_for_end(api, project, ticket, timeout=60)
            shown = (await api.get(f"/api/projects/{project['slug']}/tickets/1")).json()
            worktree = Path(shown["worktree_path"])
            huge = lines_of(64 * MB // 50, width=49)
            agent_commits(worktree, {"huge.txt": huge})
            del huge
            pid = int(json.loads((data_dir / "server.json").read_text())["pid"])
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets the peak to the RSS now
            before = memory_kb(pid, "VmRSS:")

            answer = await api.get(url(project, ticket, "diff"), timeout=120)

            grown = memory_kb(pid, "VmHWM:") - before
    finally:
        proc.terminate()
        proc.wait(30)
    assert answer.status_code == 200, answer.text[:500]
    assert [(f["path"], f["insertions"]) for f in answer.json()["not_shown"]] == [
        ("huge.txt", 64 * MB // 50)
    ]
    assert grown < 64 * 1024 // 4, f"the server grew by {grown // 1024} MB for the diff"
