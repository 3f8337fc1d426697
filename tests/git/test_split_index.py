"""A repository whose own config asks for git's split index (``core.splitIndex``, a setting for
big repositories): git honours it in the worktrees it writes for the server, which dulwich
cannot read. The ticket's work must still commit, diff and rebase."""

from __future__ import annotations

from pathlib import Path

import pytest

from codality_server.git.diff import branch_diff
from codality_server.git.remote import rebase_worktree
from codality_server.git.stat_cache import IndexSnapshot
from codality_server.git.worktrees import commit_all, create_worktree, watch_worktree
from tests.conftest import git

ANN = ("Ann", "ann@example.com")
BRANCH = "codality/1-split"


@pytest.mark.parametrize("split", [True, False])
def test_a_ticket_works_in_a_worktree_with_a_split_index(
    split: bool, git_repo: Path, tmp_path: Path
) -> None:
    git(git_repo, "config", "core.splitIndex", "true" if split else "false")
    worktree = tmp_path / "wt"
    create_worktree(git_repo, worktree, BRANCH, "main")
    admin = git_repo / ".git" / "worktrees" / "wt"
    (worktree / "new.py").write_text("NEW = 1\n")
    git(worktree, "add", "new.py")  # the user's git stages something: git writes the index
    assert bool(list(admin.glob("sharedindex.*"))) is split
    assert IndexSnapshot.at(admin / "index").readable is not split

    watch = watch_worktree(git_repo, worktree)
    assert watch is not None
    try:
        (worktree / "src" / "app.py").write_text("def greet(name):\n    return name\n")
        assert commit_all(git_repo, worktree, BRANCH, "watched", ANN, watch=watch).sha
    finally:
        watch.close()
    assert git(worktree, "status", "--porcelain") == ""
    assert "new.py" in git(worktree, "ls-files")

    (worktree / "README.md").write_text("# Changed\n")
    diff = branch_diff(git_repo, BRANCH, "main", worktree)
    assert {f.path for f in diff.files} == {"README.md", "new.py", "src/app.py"}
    assert commit_all(git_repo, worktree, BRANCH, "every file", ANN).sha
    assert git(worktree, "status", "--porcelain") == ""

    (git_repo / "CHANGES.md").write_text("main moved\n")
    git(git_repo, "add", "CHANGES.md")
    git(git_repo, "commit", "-q", "-m", "main moves on")
    outcome = rebase_worktree(git_repo, worktree, BRANCH, "main")
    assert outcome.kind == "rebased", outcome
    assert git(worktree, "status", "--porcelain") == ""
    assert (worktree / "CHANGES.md").read_text() == "main moved\n"
    assert git(worktree, "merge-base", "--is-ancestor", "main", "HEAD") == ""
