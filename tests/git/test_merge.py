"""Merging a ticket branch into main in real repositories, checked with the real ``git``; each
test runs with git doing the plumbing and with dulwich alone."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from codality_server.domain.errors import Conflict
from codality_server.git.merge import MergeOutcome, Strategy, keep_branch_tip, merge_branch
from codality_server.git.network import RemoteError
from codality_server.git.remote import has_origin, push_to_origin
from tests.conftest import FRIENDLIER_GREET, commit_on_branch, git

pytestmark = pytest.mark.usefixtures("git_backend")

BRANCH = "codality/1-greet"
AUTHOR = ("Ada Reviewer", "ada@example.com")


def rev(repo: Path, name: str) -> str:
    return git(repo, "rev-parse", name).strip()


def assert_healthy(repo: Path) -> None:
    """fsck is clean and no merge is left half done."""
    subprocess.run(["git", "fsck", "--strict"], cwd=repo, check=True, capture_output=True)
    assert not (repo / ".git" / "MERGE_HEAD").exists()
    for path in repo.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            assert b"<<<<<<<" not in path.read_bytes(), path


def files_of(repo: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}


@pytest.fixture
def branch(git_repo: Path, tmp_path: Path) -> Path:
    """A ticket worktree with one commit that changes src/app.py and adds notes.md."""
    files = {"src/app.py": FRIENDLIER_GREET, "notes.md": "notes\n"}
    return commit_on_branch(git_repo, tmp_path / "wt", BRANCH, files)


def merge(repo: Path, strategy: Strategy = "merge") -> MergeOutcome:
    return merge_branch(repo, BRANCH, "main", strategy, "Merge #1 greet", AUTHOR)


def test_fast_forward_updates_main_and_the_users_checkout(git_repo: Path, branch: Path) -> None:
    outcome = merge(git_repo)
    assert outcome.kind == "fast_forward"
    assert rev(git_repo, "main") == rev(git_repo, BRANCH)
    assert (git_repo / "notes.md").read_text() == "notes\n"
    assert "hi {name}!" in (git_repo / "src" / "app.py").read_text()
    assert git(git_repo, "status", "--porcelain") == ""
    assert_healthy(git_repo)


def test_diverged_branches_get_a_merge_commit(git_repo: Path, branch: Path) -> None:
    (git_repo / "README.md").write_text("# Sample\n\nMain moved.\n")
    git(git_repo, "commit", "-q", "-am", "main moves")
    before = rev(git_repo, "main")

    outcome = merge(git_repo)

    assert outcome.kind == "merge_commit"
    parents = git(git_repo, "rev-list", "--parents", "-n1", "main").split()[1:]
    assert parents == [before, rev(git_repo, BRANCH)]
    assert git(git_repo, "log", "-1", "--format=%an <%ae>|%s", "main") == (
        "Ada Reviewer <ada@example.com>|Merge #1 greet\n"
    )
    assert (git_repo / "README.md").read_text() == "# Sample\n\nMain moved.\n"
    assert (git_repo / "notes.md").exists()
    assert git(git_repo, "status", "--porcelain") == ""
    assert_healthy(git_repo)


def test_squash_makes_one_commit_with_one_parent(git_repo: Path, branch: Path) -> None:
    (branch / "more.txt").write_text("more\n")
    git(branch, "add", "-A")
    git(branch, "commit", "-q", "-m", "second commit on the branch")
    before = rev(git_repo, "main")

    outcome = merge(git_repo, "squash")

    assert outcome.kind == "squash"
    assert git(git_repo, "rev-list", "--parents", "-n1", "main").split()[1:] == [before]
    assert git(git_repo, "diff", "main", BRANCH) == ""  # same tree as the branch
    ancestor = subprocess.run(
        ["git", "merge-base", "--is-ancestor", BRANCH, "main"], cwd=git_repo, check=False
    )
    assert ancestor.returncode == 1
    assert git(git_repo, "status", "--porcelain") == ""
    assert_healthy(git_repo)


def test_conflict_is_refused_and_leaves_nothing_behind(git_repo: Path, branch: Path) -> None:
    (git_repo / "src" / "app.py").write_text("def greet(name):\n    return f'hey {name}'\n")
    git(git_repo, "commit", "-q", "-am", "main edits the same line")
    before = rev(git_repo, "main")
    files_before = (git_repo / "src" / "app.py").read_bytes()

    with pytest.raises(Conflict) as caught:
        merge(git_repo)

    assert caught.value.details["conflicts"] == ["src/app.py"]
    assert caught.value.details["reason"] == "merge_conflict"
    assert rev(git_repo, "main") == before
    assert (git_repo / "src" / "app.py").read_bytes() == files_before
    assert git(git_repo, "status", "--porcelain") == ""
    assert_healthy(git_repo)


def test_unrelated_local_edits_survive_the_merge(git_repo: Path, branch: Path) -> None:
    (git_repo / "README.md").write_text("# Sample\n\nmy local notes\n")
    (git_repo / "scratch.txt").write_text("untracked scratch\n")

    merge(git_repo)

    assert rev(git_repo, "main") == rev(git_repo, BRANCH)
    assert (git_repo / "README.md").read_text() == "# Sample\n\nmy local notes\n"
    assert (git_repo / "scratch.txt").read_text() == "untracked scratch\n"
    assert "hi {name}!" in (git_repo / "src" / "app.py").read_text()
    assert git(git_repo, "status", "--porcelain") == " M README.md\n?? scratch.txt\n"
    assert_healthy(git_repo)


@pytest.mark.parametrize("kind", ["modified", "staged", "untracked_in_the_way", "deleted"])
def test_overlapping_local_work_refuses_the_merge(git_repo: Path, branch: Path, kind: str) -> None:
    app = git_repo / "src" / "app.py"
    if kind == "modified":
        app.write_text("def greet(name):\n    return 'my own work'\n")
    elif kind == "staged":
        app.write_text("def greet(name):\n    return 'staged work'\n")
        git(git_repo, "add", "src/app.py")
    elif kind == "untracked_in_the_way":
        (git_repo / "notes.md").write_text("my notes, not tracked\n")
    else:
        app.unlink()
    before = rev(git_repo, "main")
    snapshot = files_of(git_repo)
    status = git(git_repo, "status", "--porcelain")

    with pytest.raises(Conflict) as caught:
        merge(git_repo)

    assert caught.value.details["reason"] == "local_changes"
    assert caught.value.details["conflicts"] == [
        "notes.md" if "untracked" in kind else "src/app.py"
    ]
    assert rev(git_repo, "main") == before
    assert files_of(git_repo) == snapshot
    assert git(git_repo, "status", "--porcelain") == status


def test_main_not_checked_out_moves_only_the_ref(git_repo: Path, branch: Path) -> None:
    git(git_repo, "switch", "-q", "-c", "elsewhere")
    merge(git_repo)
    assert rev(git_repo, "main") == rev(git_repo, BRANCH)
    assert not (git_repo / "notes.md").exists()
    assert git(git_repo, "status", "--porcelain") == ""
    assert_healthy(git_repo)


def test_already_merged_branch_is_up_to_date(git_repo: Path, branch: Path) -> None:
    merge(git_repo)
    again = merge(git_repo)
    assert again.kind == "up_to_date"
    assert again.before == again.after == rev(git_repo, "main")


def test_push_to_a_bare_origin(git_repo: Path, branch: Path, tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(git_repo), str(origin))
    assert not has_origin(git_repo)
    git(git_repo, "remote", "add", "origin", str(origin))
    assert has_origin(git_repo)

    merge(git_repo)
    assert push_to_origin(git_repo, "main", 5.0) == rev(git_repo, "main")
    assert rev(origin, "main") == rev(git_repo, "main")


def test_a_failed_push_is_reported(git_repo: Path, branch: Path, tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(git_repo), str(origin))
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(origin), str(other))
    (other / "elsewhere.txt").write_text("pushed by someone else\n")
    git(other, "add", "-A")
    git(other, "commit", "-q", "-m", "someone else")
    git(other, "push", "-q", "origin", "main")
    git(git_repo, "remote", "add", "origin", str(origin))

    merge(git_repo)
    with pytest.raises(RemoteError, match="remote branch has commits this repository lacks"):
        push_to_origin(git_repo, "main", 5.0)

    assert rev(origin, "main") != rev(git_repo, "main")


def test_keep_branch_tip_makes_the_work_recoverable(git_repo: Path, branch: Path) -> None:
    tip = rev(git_repo, BRANCH)
    ref, sha = keep_branch_tip(git_repo, BRANCH, "1-20260101T000000Z")
    assert ref == "refs/codality/discarded/1-20260101T000000Z"
    assert sha == tip == rev(git_repo, ref)
    assert_healthy(git_repo)
