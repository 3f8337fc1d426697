"""Ancestry with commits that share one timestamp, checked against the git CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from dulwich.objects import ObjectID
from dulwich.repo import Repo

from codality_server.git.diff import branch_diff
from codality_server.git.history import is_ancestor, merge_bases
from tests.conftest import commit_on_branch, git

BRANCH = "codality/1-greet"


def same_second_history(root: Path, seed: int) -> tuple[Path, Path]:
    """main and a ticket branch that merged main back in, every commit in the same second;
    ``seed`` varies the contents so the commit ids (dulwich's tie-break) vary too."""
    repo = root / f"repo{seed}"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text(f"seed {seed}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    (repo / "c.txt").write_text("more\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "second")
    worktree = commit_on_branch(repo, root / f"wt{seed}", BRANCH, {"b.txt": f"work {seed}\n"})
    (repo / "long.txt").write_text("".join(f"line {i}\n" for i in range(40)))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "main moves on")
    (repo / "c.txt").write_text("more still\n")
    git(repo, "commit", "-q", "-am", "and on")
    git(worktree, "merge", "-q", "main")
    return repo, worktree


@pytest.fixture
def one_second(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
        monkeypatch.setenv(name, "2026-12-03T10:00:00+0000")


def oid(repo: Path, rev: str) -> ObjectID:
    return ObjectID(git(repo, "rev-parse", rev).strip().encode())


@pytest.mark.usefixtures("one_second")
def test_merge_base_and_ancestry_agree_with_git(tmp_path: Path) -> None:
    for seed in range(16):
        repo, _ = same_second_history(tmp_path, seed)
        main, branch = oid(repo, "main"), oid(repo, BRANCH)
        commits = [ObjectID(c.encode()) for c in git(repo, "rev-list", "--all").split()]
        with Repo(str(repo)) as dulwich_repo:
            assert merge_bases(dulwich_repo, main, branch) == [main]
            assert merge_bases(dulwich_repo, branch, main) == [main]
            for new in commits:
                reachable = set(git(repo, "rev-list", new.decode()).split())
                for old in commits:
                    expected = old.decode() in reachable
                    assert is_ancestor(dulwich_repo, old, new) == expected, (seed, old, new)


@pytest.mark.usefixtures("one_second")
def test_branch_diff_after_merging_main_in_the_same_second(tmp_path: Path) -> None:
    """The file main added and the branch merged is not part of the ticket's work."""
    for seed in range(8):
        repo, worktree = same_second_history(tmp_path, seed)
        diff = branch_diff(repo, BRANCH, "main", worktree)
        assert diff.base == git(repo, "merge-base", "main", BRANCH).strip()
        assert [f.path for f in diff.files] == ["b.txt"]


def test_unrelated_histories_have_no_merge_base(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for repo in (one, two):
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        (repo / "f.txt").write_text(repo.name)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", repo.name)
    git(one, "fetch", "-q", str(two), "main:other")
    with Repo(str(one)) as repo_one:
        assert merge_bases(repo_one, oid(one, "main"), oid(one, "other")) == []
        assert not is_ancestor(repo_one, oid(one, "main"), oid(one, "other"))
