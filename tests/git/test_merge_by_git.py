"""What ``git read-tree`` adds to a merge where git is installed: a checkout git refuses to
update (an unresolved conflict anywhere in its index) refuses the merge, and nothing moves."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from codality_server.domain.errors import Conflict
from codality_server.git.merge import merge_branch
from tests.conftest import FRIENDLIER_GREET, commit_on_branch, git

BRANCH = "codality/1-greet"


@pytest.fixture
def branch(git_repo: Path, tmp_path: Path) -> Path:
    return commit_on_branch(git_repo, tmp_path / "wt", BRANCH, {"src/app.py": FRIENDLIER_GREET})


def git_fed(cwd: Path, text: str, *args: str) -> str:
    """The real git CLI with ``text`` on its stdin."""
    done = subprocess.run(
        ["git", *args], cwd=cwd, input=text, check=True, capture_output=True, text=True
    )
    return done.stdout


def leave_a_conflict(checkout: Path, name: str) -> None:
    """An unresolved conflict at ``name`` (stages 2 and 3), as a failed ``git merge`` leaves."""
    ours = git_fed(checkout, "ours\n", "hash-object", "-w", "--stdin").strip()
    theirs = git_fed(checkout, "theirs\n", "hash-object", "-w", "--stdin").strip()
    entries = f"100644 {ours} 2\t{name}\n100644 {theirs} 3\t{name}\n"
    git_fed(checkout, entries, "update-index", "--index-info")
    (checkout / name).write_text("<<<<<<< ours\nours\n=======\ntheirs\n>>>>>>> theirs\n")


def state(checkout: Path) -> tuple[str, str, str]:
    return (
        git(checkout, "rev-parse", "main"),
        git(checkout, "status", "--porcelain"),
        (checkout / "src" / "app.py").read_text(),
    )


def test_a_conflicted_index_elsewhere_refuses_the_merge(git_repo: Path, branch: Path) -> None:
    leave_a_conflict(git_repo, "other.txt")
    before = state(git_repo)
    assert "UU other.txt" in before[1] or "AA other.txt" in before[1]  # the control

    with pytest.raises(Conflict) as caught:
        merge_branch(git_repo, BRANCH, "main", "merge", "Merge", ("Ann", "ann@example.com"))

    assert caught.value.details["reason"] == "local_changes"
    assert state(git_repo) == before


def test_a_second_checkout_refusing_puts_the_first_back(
    git_repo: Path, branch: Path, tmp_path: Path
) -> None:
    """main is also checked out in a linked worktree, whose index holds a conflict: the user's
    checkout, updated first, is put back as it was, and main does not move."""
    linked = tmp_path / "linked"
    git(git_repo, "worktree", "add", "-q", "--force", str(linked), "main")
    leave_a_conflict(linked, "other.txt")
    before, linked_before = state(git_repo), state(linked)

    with pytest.raises(Conflict) as caught:
        merge_branch(git_repo, BRANCH, "main", "merge", "Merge", ("Ann", "ann@example.com"))

    assert caught.value.details["checkout"] == str(linked.resolve())
    assert state(git_repo) == before and state(linked) == linked_before
    assert "hi {name}!" not in (git_repo / "src" / "app.py").read_text()
