"""Ticket worktrees made with dulwich, checked with the real ``git`` CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from codality_server.domain.errors import Conflict
from codality_server.git.worktrees import branch_name, commit_all, create_worktree, remove_worktree
from tests.conftest import git

pytestmark = pytest.mark.usefixtures("git_backend")

ANN = ("Ann", "ann@example.com")


def test_branch_name_is_a_safe_slug() -> None:
    assert branch_name(7, "Fix the Login page!") == "codality/7-fix-the-login-page"
    assert branch_name(3, "???") == "codality/3"
    assert len(branch_name(1, "x" * 200)) <= len("codality/1-") + 40


def test_create_commit_reuse_and_remove(git_repo: Path, tmp_path: Path) -> None:
    wt = tmp_path / "worktrees" / "proj" / "1"
    create_worktree(git_repo, wt, "codality/1-thing", "main")
    assert str(wt) in git(git_repo, "worktree", "list")
    assert git(wt, "rev-parse", "--abbrev-ref", "HEAD").strip() == "codality/1-thing"
    assert git(wt, "rev-parse", "HEAD") == git(git_repo, "rev-parse", "main")
    assert git(wt, "status", "--porcelain") == ""

    branch = "codality/1-thing"
    assert commit_all(git_repo, wt, branch, "nothing", ANN).sha is None
    (wt / "new.txt").write_text("hello\n")
    (wt / "src" / "util.py").unlink()
    sha = commit_all(git_repo, wt, branch, "Add new.txt\n\nbody", ANN).sha
    assert sha is not None and git(wt, "rev-parse", "HEAD").strip() == sha
    assert git(wt, "log", "-1", "--format=%an <%ae>|%cn|%s").strip() == (
        "Ann <ann@example.com>|Ann|Add new.txt"
    )
    assert git(wt, "status", "--porcelain") == ""
    assert "src/util.py" not in git(wt, "ls-files")
    git(git_repo, "fsck")

    (wt / "scratch.txt").write_text("uncommitted\n")
    create_worktree(git_repo, wt, "codality/1-thing", "main")  # reused, work kept
    assert (wt / "scratch.txt").read_text() == "uncommitted\n"

    remove_worktree(git_repo, wt, "codality/1-thing")
    assert not wt.exists()
    assert str(wt) not in git(git_repo, "worktree", "list")
    assert "codality/1-thing" not in git(git_repo, "branch", "--list")


def test_an_existing_branch_is_checked_out_again(git_repo: Path, tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    create_worktree(git_repo, wt, "codality/2-x", "main")
    (wt / "a.txt").write_text("a\n")
    sha = commit_all(git_repo, wt, "codality/2-x", "a", ANN).sha
    remove_worktree(git_repo, wt, None)
    create_worktree(git_repo, wt, "codality/2-x", "main")
    assert git(wt, "rev-parse", "HEAD").strip() == sha


def test_refuses_a_foreign_folder_and_a_missing_base(git_repo: Path, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine\n")
    with pytest.raises(Conflict):
        create_worktree(git_repo, foreign, "codality/3-x", "main")
    assert (foreign / "keep.txt").read_text() == "mine\n"
    with pytest.raises(Conflict):
        create_worktree(git_repo, tmp_path / "other", "codality/4-x", "trunk")
