"""Which git processes a ticket's diff runs: the real ``git`` behind a wrapper on ``PATH`` that
writes down each command before running it."""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path

import pytest
from dulwich.index import Index, IndexEntry

from codality_server.git.cli import SETTLED_S
from codality_server.git.diff import branch_diff
from codality_server.git.worktrees import commit_all
from tests.conftest import FRIENDLIER_GREET, commit_on_branch, git

BRANCH = "codality/1-greet"
#: What is uncommitted, listed from stat data alone: tracked changes, then untracked files.
CHANGED = ["diff-index", "ls-files"]


@pytest.fixture
def git_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file the wrapper appends each git command line to."""
    real = shutil.which("git")
    assert real is not None
    bin_dir, log = tmp_path / "bin", tmp_path / "git.log"
    bin_dir.mkdir()
    wrapper = bin_dir / "git"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.delenv("CODALITY_NO_GIT_CLI", raising=False)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def commands(log: Path) -> list[str]:
    """The git subcommands run since the log was last emptied (the ``-c`` settings skipped);
    compared sorted: the two listings of a worktree run side by side."""
    found = []
    for line in log.read_text().splitlines() if log.exists() else []:
        words = line.split()
        while words and words[0] == "-c":
            words = words[2:]
        found.append(words[0])
    log.unlink(missing_ok=True)
    return found


@pytest.fixture
def settled_worktree(git_repo: Path, tmp_path: Path) -> Path:
    """A ticket worktree with its work committed, its index older than ``SETTLED_S``."""
    path = commit_on_branch(git_repo, tmp_path / "wt", BRANCH, {"src/app.py": FRIENDLIER_GREET})
    admin = Path(git(path, "rev-parse", "--absolute-git-dir").strip())
    age = time.time() - (admin / "index").stat().st_ctime
    time.sleep(max(0.0, SETTLED_S - age) + 0.05)
    return path


def test_an_unchanged_clean_worktree_is_diffed_by_two_stat_only_listings(
    git_repo: Path, settled_worktree: Path, git_log: Path
) -> None:
    first = branch_diff(git_repo, BRANCH, "main", settled_worktree)
    assert sorted(commands(git_log)) == sorted(["ls-files", *CHANGED])

    again = branch_diff(git_repo, BRANCH, "main", settled_worktree)

    assert sorted(commands(git_log)) == sorted(CHANGED)  # the index's check is remembered
    assert again == first
    assert [f.path for f in again.files] == ["src/app.py"]
    assert again.patch == git(git_repo, "diff", f"main...{BRANCH}")


def test_uncommitted_work_after_a_clean_diff_is_staged_and_diffed(
    git_repo: Path, settled_worktree: Path, git_log: Path
) -> None:
    branch_diff(git_repo, BRANCH, "main", settled_worktree)
    commands(git_log)
    (settled_worktree / "notes.md").write_text("notes\n")

    live = branch_diff(git_repo, BRANCH, "main", settled_worktree)

    assert sorted(commands(git_log)) == sorted(CHANGED)  # the new file is read by the server itself
    assert [f.path for f in live.files] == ["notes.md", "src/app.py"]


def test_a_rewritten_index_is_checked_again(
    git_repo: Path, settled_worktree: Path, git_log: Path, tmp_path: Path
) -> None:
    """The agent rewrites its index (its git dir writable) after the server remembered the
    index as safe: the new one is checked, and git is not used on it."""
    branch_diff(git_repo, BRANCH, "main", settled_worktree)
    branch_diff(git_repo, BRANCH, "main", settled_worktree)
    assert sorted(commands(git_log)) == sorted(
        ["ls-files", *CHANGED, *CHANGED]
    )  # the control: remembered
    (tmp_path / "secret").write_text("the server's secret\n")
    admin = Path(git(settled_worktree, "rev-parse", "--absolute-git-dir").strip())
    index = Index(str(admin / "index"))
    entry = index[b"README.md"]
    assert isinstance(entry, IndexEntry)
    index[b"../secret"] = dataclasses.replace(entry, size=0, mtime=(0, 0))
    index.write()
    commands(git_log)  # the test's own rev-parse

    diff = branch_diff(git_repo, BRANCH, "main", settled_worktree)

    assert sorted(commands(git_log)) == sorted(
        ["ls-files"]
    )  # checked again, found unsafe: dulwich reads it
    assert "the server's secret" not in diff.patch
    assert not any(".." in f.path for f in diff.files)


def test_the_diff_after_the_servers_own_commit_lists_no_index(
    git_repo: Path, settled_worktree: Path, git_log: Path
) -> None:
    """The index git itself just wrote in the server's commit is known safe without a look."""
    (settled_worktree / "notes.md").write_text("notes\n")
    made = commit_all(git_repo, settled_worktree, BRANCH, "work", ("Ann", "ann@example.com"))
    assert made.sha is not None
    commands(git_log)  # the commit's own: ls-files, diff-index, ls-files, add, write-tree, …
    (settled_worktree / "notes.md").write_text("notes, more\n")

    live = branch_diff(git_repo, BRANCH, "main", settled_worktree)

    assert sorted(commands(git_log)) == sorted(CHANGED)
    assert "+notes, more" in live.patch


def test_a_worktree_off_its_branch_is_read_without_git(
    git_repo: Path, settled_worktree: Path, git_log: Path
) -> None:
    """git compares with the worktree's HEAD; once that is not the branch (the agent
    checked out another commit), dulwich reads the worktree against the merge base instead."""
    git(settled_worktree, "checkout", "-q", "--detach", "main")
    (settled_worktree / "notes.md").write_text("notes\n")
    commands(git_log)

    live = branch_diff(git_repo, BRANCH, "main", settled_worktree)

    assert commands(git_log) == []
    assert {f.path: f.status for f in live.files} == {"notes.md": "added"}
