"""Branch diffs against real repositories, checked by applying them with the real ``git``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from codality_server.domain.errors import NotFound
from codality_server.git.diff import PatchLimits, branch_diff, commit_diff
from tests.conftest import FRIENDLIER_GREET, commit_on_branch, git

pytestmark = pytest.mark.usefixtures("git_backend")

BRANCH = "codality/1-greet"


@pytest.fixture
def worktree(git_repo: Path, tmp_path: Path) -> Path:
    """A ticket worktree made with the git CLI; one commit on the branch; main moved on too."""
    files = {"src/app.py": FRIENDLIER_GREET, "docs.md": "# Docs\n\nUsage.\n"}
    path = commit_on_branch(git_repo, tmp_path / "wt", BRANCH, files)
    (git_repo / "README.md").write_text("# Sample\n\nChanged on main.\n")
    git(git_repo, "commit", "-q", "-am", "main moves on")
    return path


def apply_on_base(repo: Path, base: str, patch: str, where: Path) -> Path:
    """Check the base out elsewhere and apply the patch there with ``git apply``."""
    git(repo, "worktree", "add", "-q", "--detach", str(where), base)
    subprocess.run(["git", "apply", "--binary", "-"], cwd=where, input=patch, text=True, check=True)
    return where


def test_committed_diff_is_against_the_merge_base(git_repo: Path, worktree: Path) -> None:
    diff = branch_diff(git_repo, BRANCH, "main")

    assert diff.base == git(git_repo, "merge-base", "main", BRANCH).strip()
    assert diff.head == git(git_repo, "rev-parse", BRANCH).strip()
    assert [f.path for f in diff.files] == ["docs.md", "src/app.py"]  # not main's README change
    numstat = git(git_repo, "diff", "--numstat", f"main...{BRANCH}")
    expected = {line.split("\t")[2]: line.split("\t")[:2] for line in numstat.splitlines()}
    assert {f.path: [str(f.insertions), str(f.deletions)] for f in diff.files} == expected
    assert diff.stats()["files_changed"] == 2
    assert diff.stats()["insertions"] == sum(int(a) for a, _ in expected.values())


def test_patch_applies_to_the_base_and_reproduces_the_branch(
    git_repo: Path, worktree: Path, tmp_path: Path
) -> None:
    diff = branch_diff(git_repo, BRANCH, "main")
    copy = apply_on_base(git_repo, diff.base, diff.patch, tmp_path / "check")
    for name in ("src/app.py", "docs.md", "README.md"):
        assert (copy / name).read_text() == (worktree / name).read_text()


def test_uncommitted_work_is_included_unless_asked_not_to(
    git_repo: Path, worktree: Path, tmp_path: Path
) -> None:
    (worktree / ".gitignore").write_text("*.log\nbuild/\n")
    (worktree / "src" / "util.py").write_text("VALUE = 2\n")  # unstaged edit
    (worktree / "staged.txt").write_text("staged\n")
    git(worktree, "add", "staged.txt")
    (worktree / "new").mkdir()
    (worktree / "new" / "untracked.py").write_text("print('new')\n")
    (worktree / "debug.log").write_text("ignored\n")
    (worktree / "build").mkdir()
    (worktree / "build" / "out.txt").write_text("ignored dir\n")
    (worktree / "README.md").unlink()

    live = branch_diff(git_repo, BRANCH, "main", worktree)
    committed = branch_diff(git_repo, BRANCH, "main", None)

    assert [f.path for f in committed.files] == ["docs.md", "src/app.py"]
    by_path = {f.path: f for f in live.files}
    assert sorted(by_path) == [
        ".gitignore",
        "README.md",
        "docs.md",
        "new/untracked.py",
        "src/app.py",
        "src/util.py",
        "staged.txt",
    ]
    assert by_path["README.md"].status == "deleted"
    assert by_path["new/untracked.py"].status == "added"
    assert by_path["src/util.py"].status == "modified"
    # The patch is exactly what `git add -A` would commit: applying it reproduces the worktree.
    copy = apply_on_base(git_repo, live.base, live.patch, tmp_path / "check")
    assert not (copy / "README.md").exists()
    for name in ("src/util.py", "staged.txt", "new/untracked.py", "src/app.py"):
        assert (copy / name).read_text() == (worktree / name).read_text()
    assert not (copy / "debug.log").exists()
    assert git(worktree, "status", "--porcelain", "--", "src/util.py") == " M src/util.py\n"


def test_edits_between_two_calls_are_seen(git_repo: Path, worktree: Path) -> None:
    first = branch_diff(git_repo, BRANCH, "main", worktree)
    # Same size, written right after: the stat cache must not hide it.
    (worktree / "docs.md").write_text("# Docs\n\nUsagE.\n")
    second = branch_diff(git_repo, BRANCH, "main", worktree)
    assert "+UsagE." in second.patch and "+UsagE." not in first.patch
    (worktree / "docs.md").write_text("# Docs\n\nUsage.\n")
    assert branch_diff(git_repo, BRANCH, "main", worktree).patch == first.patch


def test_binary_files_are_named_not_dumped(git_repo: Path, worktree: Path) -> None:
    payload = bytes(range(256)) * 40
    (worktree / "logo.png").write_bytes(payload)
    diff = branch_diff(git_repo, BRANCH, "main", worktree)
    logo = diff.file("logo.png")
    assert logo is not None and logo.binary and logo.insertions == 0
    assert "Binary files /dev/null and b/logo.png differ" in diff.patch
    assert len(diff.patch) < len(payload)


def test_line_ranges_cover_the_hunks(git_repo: Path, worktree: Path) -> None:
    lines = "".join(f"line {i}\n" for i in range(1, 41))
    (git_repo / "long.txt").write_text(lines)
    git(git_repo, "add", "long.txt")
    git(git_repo, "commit", "-q", "-m", "long file")
    git(worktree, "merge", "-q", "main")
    (worktree / "long.txt").write_text(lines.replace("line 30\n", "line thirty\n"))
    diff = branch_diff(git_repo, BRANCH, "main", worktree)
    long = diff.file("long.txt")
    assert long is not None
    assert long.has_line(30) and long.has_line(27) and long.has_line(33)
    assert not long.has_line(5) and not long.has_line(40)


def test_commit_diff_between_two_commits(git_repo: Path) -> None:
    old = git(git_repo, "rev-parse", "HEAD~1").strip()
    new = git(git_repo, "rev-parse", "HEAD").strip()
    diff = commit_diff(git_repo, old, new)
    assert [(f.path, f.status, f.insertions) for f in diff.files] == [("src/util.py", "added", 1)]


def test_unknown_branch_is_not_found(git_repo: Path) -> None:
    with pytest.raises(NotFound):
        branch_diff(git_repo, "codality/404-missing", "main")


def test_the_worktree_wins_over_the_index(git_repo: Path, worktree: Path) -> None:
    """Staged then reverted on disk is no change; ``git rm --cached`` of a file kept on disk is
    no change either (``git add -A`` would re-add it); a staged deletion is a deletion."""
    original = (worktree / "src" / "util.py").read_text()
    (worktree / "src" / "util.py").write_text("VALUE = 3\n")
    git(worktree, "add", "src/util.py")
    (worktree / "src" / "util.py").write_text(original)
    git(worktree, "rm", "-q", "--cached", "docs.md")
    git(worktree, "rm", "-q", "README.md")

    diff = branch_diff(git_repo, BRANCH, "main", worktree)

    assert {f.path: f.status for f in diff.files} == {
        "README.md": "deleted",
        "docs.md": "added",
        "src/app.py": "modified",
    }


def test_a_live_diff_stores_nothing_in_the_repository(git_repo: Path, worktree: Path) -> None:
    """Reading the worktree for a diff writes no object: what the agent left there reaches the
    repository only when its work is committed."""
    (worktree / "fresh.txt").write_text("only in the worktree 8c1f\n")
    (worktree / "docs.md").write_text("# Docs\n\nRewritten 8c1f.\n")
    blobs = [git(worktree, "hash-object", name).strip() for name in ("fresh.txt", "docs.md")]

    diff = branch_diff(git_repo, BRANCH, "main", worktree)

    assert "+only in the worktree 8c1f" in diff.patch and "+Rewritten 8c1f." in diff.patch
    for blob in blobs:
        missing = subprocess.run(["git", "cat-file", "-e", blob], cwd=git_repo, check=False)
        assert missing.returncode != 0, f"{blob} was written by the diff"


def test_files_above_the_cap_are_left_out_of_a_live_diff(git_repo: Path, worktree: Path) -> None:
    """A tracked file grown past the cap stays as committed, a new one past it is not shown;
    the small edit beside them is."""
    limit = 64 * 1024
    (worktree / "README.md").write_bytes(b"x" * (2 * limit))
    with open(worktree / "huge.bin", "wb") as handle:
        handle.truncate(1024 * limit)
    (worktree / "src" / "util.py").write_text("VALUE = 5\n")

    diff = branch_diff(git_repo, BRANCH, "main", worktree, max_file_bytes=limit)

    assert [f.path for f in diff.files] == ["docs.md", "src/app.py", "src/util.py"]
    assert "+VALUE = 5" in diff.patch and "xxxx" not in diff.patch


def test_a_live_diff_reads_at_most_its_budget_in_all(git_repo: Path, worktree: Path) -> None:
    """Many files each under the cap are read only up to the diff's budget (the server holds
    what it read): those past it stay as committed. Control: the same worktree, a budget above
    what they hold, shows them all."""
    for number in range(6):
        (worktree / f"part{number}.txt").write_text(f"{number}\n" * 500)  # 1,000 bytes each

    everything = branch_diff(git_repo, BRANCH, "main", worktree, budget=10_000)
    limited = branch_diff(git_repo, BRANCH, "main", worktree, budget=2_500)

    parts = [f.path for f in everything.files if f.path.startswith("part")]
    assert len(parts) == 6
    shown = [f.path for f in limited.files if f.path.startswith("part")]
    assert len(shown) == 2 and set(shown) < set(parts)
    assert [f.path for f in limited.files if not f.path.startswith("part")] == [
        "docs.md",
        "src/app.py",
    ]


def test_names_with_spaces_are_read_whole(git_repo: Path, worktree: Path) -> None:
    """``git status`` records are split by name correctly, whatever the name holds."""
    (worktree / "with space.txt").write_text("spaced\n")
    (worktree / "src" / "a b c.py").write_text("X = 1\n")
    git(worktree, "add", "src/a b c.py")
    (worktree / "src" / "a b c.py").write_text("X = 2\n")

    diff = branch_diff(git_repo, BRANCH, "main", worktree)

    assert {f.path: f.status for f in diff.files} == {
        "docs.md": "added",
        "src/app.py": "modified",
        "src/a b c.py": "added",
        "with space.txt": "added",
    }
    assert "+X = 2" in diff.patch and "+X = 1" not in diff.patch


@pytest.mark.parametrize(
    ("limit", "packed"),
    [(64 * 1024, False), (64 * 1024, True), (None, False)],
    ids=["over-the-limit-loose", "over-the-limit-packed", "control-default"],
)
def test_a_file_past_the_patch_limit_keeps_its_counts_and_lines_not_its_text(
    git_repo: Path, tmp_path: Path, limit: int | None, packed: bool
) -> None:
    """A 5,000-line file changed on every tenth line (diffed, its text dropped as it passes the
    limit) and one deleted whole (counted without a diff: as its loose object inflates, or read
    whole when packed) are listed with git's counts and the lines a review comment may point
    at; a binary file over the limit and a small one are shown. The control, with the default
    limits, shows them all: the patch reproduces the branch."""
    # Blobs of their own per case: a rendering is cached by blob id, across tests too.
    kind = f"{limit}-{packed}"
    numbered = "".join(f"line {i} of a long file, {kind}, long enough\n" for i in range(5_000))
    (git_repo / "big.txt").write_text(numbered)
    (git_repo / "gone.txt").write_text(numbered)
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "two big files")
    edited = "".join(
        line.upper() if i % 10 == 0 else line
        for i, line in enumerate(numbered.splitlines(keepends=True))
    )
    worktree = commit_on_branch(git_repo, tmp_path / "wt", BRANCH, {"big.txt": edited})
    (worktree / "gone.txt").unlink()
    (worktree / "blob.bin").write_bytes(bytes(range(256)) * 1_000 + kind.encode())
    (worktree / "small.py").write_text("SMALL = 1\n")
    git(worktree, "add", "-A")
    git(worktree, "commit", "-q", "-m", "more")
    if packed:
        git(git_repo, "gc", "-q")
        assert not list((git_repo / ".git" / "objects").glob("??/*"))  # no loose object left

    limits = PatchLimits() if limit is None else PatchLimits(file=limit)
    diff = branch_diff(git_repo, BRANCH, "main", limits=limits)

    numstat = git(git_repo, "diff", "--numstat", f"main...{BRANCH}")
    expected = {row.split("\t")[2]: row.split("\t")[:2] for row in numstat.splitlines()}
    expected["blob.bin"] = ["0", "0"]  # git's "-" for a binary file
    assert {f.path: [str(f.insertions), str(f.deletions)] for f in diff.files} == expected
    by_path = {f.path: f for f in diff.files}
    assert by_path["gone.txt"].has_line(5_000) and not by_path["gone.txt"].has_line(5_001)
    assert by_path["big.txt"].has_line(4_991) and by_path["blob.bin"].binary
    if limit is None:
        assert diff.not_shown() == []
        copy = tmp_path / "check"
        git(git_repo, "worktree", "add", "-q", "--detach", str(copy), diff.base)
        text_only = ["git", "apply", "--exclude=blob.bin", "-"]  # no binary data in the patch
        subprocess.run(text_only, cwd=copy, input=diff.patch, text=True, check=True)
        assert (copy / "big.txt").read_text() == edited and not (copy / "gone.txt").exists()
        return
    assert [(f["path"], f["status"], f["reason"]) for f in diff.not_shown()] == [
        ("big.txt", "modified", "file_too_large"),
        ("gone.txt", "deleted", "file_too_large"),
    ]
    blob_id = git(git_repo, "rev-parse", f"{BRANCH}:blob.bin").strip()
    assert f"index 0000000..{blob_id[:7]}\nBinary files /dev/null and b/blob.bin differ" in (
        diff.patch
    )
    assert "+SMALL = 1" in diff.patch and "big.txt" not in diff.patch
    assert "gone.txt" not in diff.patch and len(diff.patch) < 1024
