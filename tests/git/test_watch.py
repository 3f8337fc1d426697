"""The end-of-run commit told what changed by a ``ChangeWatch`` (issue 21): it must commit what
``git add -A`` would, looking at nothing the kernel did not name, and fall back to comparing
every file whenever the watch cannot vouch. Real inotify, real git, real files."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from codality_server.git import watch as watch_module
from codality_server.git.stat_cache import LruCache
from codality_server.git.watch import ChangeWatch
from codality_server.git.worktrees import commit_all, create_worktree, watch_worktree
from tests.conftest import git

ANN = ("Ann", "ann@example.com")
BRANCH = "codality/1-watched"


@pytest.fixture
def worktree(git_repo: Path, tmp_path: Path) -> Path:
    (git_repo / ".gitignore").write_text("*.log\nbuild/\n")
    (git_repo / "docs").mkdir()
    (git_repo / "docs" / "guide.md").write_text("# Guide\n")
    (git_repo / "docs" / "more.md").write_text("more\n")
    (git_repo / "tool.sh").write_text("echo hi\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "more files")
    path = tmp_path / "wt"
    create_worktree(git_repo, path, BRANCH, "main")
    return path


@contextmanager
def watched(git_repo: Path, worktree: Path) -> Iterator[ChangeWatch]:
    """The watch a run of the ticket would start, closed after."""
    made = watch_worktree(git_repo, worktree)
    assert made is not None
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def watching(git_repo: Path, worktree: Path) -> Iterator[ChangeWatch]:
    with watched(git_repo, worktree) as made:
        assert made.gave_up is None
        yield made


def committed(worktree: Path) -> dict[str, str]:
    """Every path of the branch's tip with its mode and type, from git."""
    listing = git(worktree, "ls-tree", "-r", "HEAD").splitlines()
    return {line.split("\t", 1)[1]: line.split("\t", 1)[0] for line in listing}


def stored(worktree: Path, path: str) -> bytes:
    """The bytes the branch's tip holds at ``path`` (no newline translation)."""
    return subprocess.run(
        ["git", "cat-file", "-p", f"HEAD:{path}"], cwd=worktree, check=True, capture_output=True
    ).stdout


def left_behind(worktree: Path) -> str:
    """What git still sees uncommitted (worktree against index against HEAD, untracked)."""
    return git(worktree, "status", "--porcelain", "--untracked-files=all")


def test_a_watched_commit_takes_what_git_add_all_would(
    git_repo: Path, worktree: Path, tmp_path: Path
) -> None:
    (worktree / "before.txt").write_text("written before the watch began\n")
    with watched(git_repo, worktree) as watch:
        (worktree / "README.md").write_text("# Changed\n")
        (worktree / "a" / "b" / "c").mkdir(parents=True)
        (worktree / "a" / "b" / "c" / "deep.txt").write_text("deep\n")
        (worktree / "src" / "util.py").unlink()
        os.rename(worktree / "docs", worktree / "manual")
        (worktree / "tool.sh").chmod(0o755)
        (worktree / "link").symlink_to("README.md")
        secret = tmp_path / "secret.txt"
        secret.write_text("never committed\n")
        (worktree / "outside").symlink_to(secret)
        (worktree / "debug.log").write_text("ignored\n")
        (worktree / "build").mkdir()
        (worktree / "build" / "out.bin").write_bytes(b"\0" * 10)
        result = commit_all(git_repo, worktree, BRANCH, "work", ANN, watch=watch)
        assert watch.gave_up is None

    assert result.sha is not None and git(worktree, "rev-parse", "HEAD").strip() == result.sha
    assert left_behind(worktree) == ""
    assert commit_all(git_repo, worktree, BRANCH, "again", ANN).sha is None  # nothing missed
    tree = committed(worktree)
    assert "before.txt" in tree and "a/b/c/deep.txt" in tree
    assert "src/util.py" not in tree and "docs/guide.md" not in tree
    assert {"manual/guide.md", "manual/more.md"} <= tree.keys()
    assert tree["tool.sh"].startswith("100755")
    assert tree["link"].startswith("120000") and tree["outside"].startswith("120000")
    assert git(worktree, "cat-file", "-p", "HEAD:outside") == str(secret)  # the link, not "never…"
    assert "debug.log" not in tree and "build/out.bin" not in tree


def test_a_folder_and_a_file_trade_places(
    git_repo: Path, worktree: Path, watching: ChangeWatch
) -> None:
    for name in ("guide.md", "more.md"):
        (worktree / "docs" / name).unlink()
    (worktree / "docs").rmdir()
    (worktree / "docs").write_text("a file now\n")
    (worktree / "tool.sh").unlink()
    (worktree / "tool.sh").mkdir()
    (worktree / "tool.sh" / "run").write_text("a folder now\n")

    assert commit_all(git_repo, worktree, BRANCH, "swap", ANN, watch=watching).sha
    assert left_behind(worktree) == ""
    tree = committed(worktree)
    assert "docs" in tree and "tool.sh/run" in tree
    assert not any(path.startswith("docs/") for path in tree) and "tool.sh" not in tree


def test_the_commit_looks_only_at_what_the_kernel_named(
    git_repo: Path, worktree: Path, watching: ChangeWatch, tmp_path: Path
) -> None:
    """A write through a hard link outside the work tree reaches a tracked file without an event
    in any watched folder: the watched commit does not see it (it looks at the named paths
    alone); the control, a commit comparing every file, does."""
    unseen = tmp_path / "alias.md"
    os.link(worktree / "docs" / "more.md", unseen)
    watching.take()  # the link count's change, named: forget it
    unseen.write_text("changed behind the watch's back\n")
    (worktree / "README.md").write_text("# Seen\n")

    assert commit_all(git_repo, worktree, BRANCH, "seen", ANN, watch=watching).sha
    assert git(worktree, "show", "HEAD:README.md") == "# Seen\n"
    assert git(worktree, "show", "HEAD:docs/more.md") == "more\n"

    assert commit_all(git_repo, worktree, BRANCH, "every file", ANN).sha
    assert git(worktree, "show", "HEAD:docs/more.md") == "changed behind the watch's back\n"


def test_a_changed_file_with_a_second_link_makes_the_commit_compare_everything(
    git_repo: Path, worktree: Path, watching: ChangeWatch
) -> None:
    os.link(worktree / "docs" / "more.md", worktree / "twin.md")
    (worktree / "twin.md").write_text("written through the twin\n")

    assert commit_all(git_repo, worktree, BRANCH, "twins", ANN, watch=watching).sha
    assert git(worktree, "show", "HEAD:docs/more.md") == "written through the twin\n"
    assert left_behind(worktree) == ""


def test_a_changed_gitignore_makes_the_commit_compare_everything(
    git_repo: Path, worktree: Path
) -> None:
    (worktree / "kept.log").write_text("ignored until the rules change\n")
    with watched(git_repo, worktree) as watch:
        (worktree / ".gitignore").write_text("build/\n")
        assert commit_all(git_repo, worktree, BRANCH, "rules", ANN, watch=watch).sha
    assert "kept.log" in committed(worktree)
    assert left_behind(worktree) == ""


def test_git_makes_the_blobs_where_attributes_apply(git_repo: Path, worktree: Path) -> None:
    """Without attributes the server stores the bytes as read (CRLF stays); with ``eol=lf``
    git converts them, as ``git add`` would."""
    with watched(git_repo, worktree) as watch:
        (worktree / "raw.txt").write_bytes(b"one\r\ntwo\r\n")
        assert commit_all(git_repo, worktree, BRANCH, "raw", ANN, watch=watch).sha
        assert stored(worktree, "raw.txt") == b"one\r\ntwo\r\n"

        (worktree / ".gitattributes").write_text("*.txt text eol=lf\n")
        (worktree / "converted.txt").write_bytes(b"one\r\ntwo\r\n")
        assert commit_all(git_repo, worktree, BRANCH, "attributes", ANN, watch=watch).sha
        assert stored(worktree, "converted.txt") == b"one\ntwo\n"


def test_a_file_above_the_cap_is_left_out_unread(
    git_repo: Path, worktree: Path, watching: ChangeWatch
) -> None:
    (worktree / "big.bin").write_bytes(b"x" * 4096)
    (worktree / "small.bin").write_bytes(b"x" * 1024)
    result = commit_all(
        git_repo, worktree, BRANCH, "sizes", ANN, max_file_bytes=2048, watch=watching
    )
    assert [item.path for item in result.left_out] == ["big.bin"]
    tree = committed(worktree)
    assert "small.bin" in tree and "big.bin" not in tree


def test_the_watch_names_renames_and_new_folders(worktree: Path, watching: ChangeWatch) -> None:
    os.rename(worktree / "docs", worktree / "manual")
    (worktree / "manual" / "new.md").write_text("in the moved folder\n")
    (worktree / "fresh" / "inner").mkdir(parents=True)
    (worktree / "fresh" / "inner" / "x.txt").write_text("x\n")
    named = watching.take()
    assert named is not None
    assert {b"docs", b"manual", b"fresh"} <= named
    assert watching.take() == set()
    (worktree / "fresh" / "inner" / "x.txt").write_text("again\n")  # its folder is watched now
    assert watching.take() == {b"fresh/inner/x.txt"}


def test_the_watch_gives_up_on_too_many_changes(
    git_repo: Path, worktree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_module, "MAX_CHANGED", 5)
    with watched(git_repo, worktree) as watch:
        for number in range(10):
            (worktree / f"file{number}.txt").write_text(f"{number}\n")
        assert watch.take() is None
        assert watch.gave_up == "more than 5 paths changed"
        assert commit_all(git_repo, worktree, BRANCH, "many", ANN, watch=watch).sha
    assert {f"file{number}.txt" for number in range(10)} <= committed(worktree).keys()


def test_the_watch_gives_up_past_its_folders_and_when_the_tree_goes(
    git_repo: Path, worktree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_module, "MAX_FOLDERS", 2)
    with watched(git_repo, worktree) as crowded:
        assert crowded.take() is None and crowded.gave_up == "more than 2 folders to watch"

    monkeypatch.setattr(watch_module, "MAX_FOLDERS", 65_536)
    with watched(git_repo, worktree) as watch:
        os.rename(worktree, worktree.with_name("moved"))
        assert watch.take() is None
        assert watch.gave_up == "the work tree itself was moved or removed"


def test_a_fifo_in_place_of_a_file_stays_as_committed(
    git_repo: Path, worktree: Path, watching: ChangeWatch
) -> None:
    """git itself refuses to stage a FIFO (``git add -A`` fails outright); the commit, watched
    or comparing every file, keeps the committed file and takes the rest, never opening it."""
    (worktree / "docs" / "more.md").unlink()
    os.mkfifo(worktree / "docs" / "more.md")
    (worktree / "README.md").write_text("# Still committed\n")

    assert commit_all(git_repo, worktree, BRANCH, "fifo", ANN, watch=watching).sha
    assert git(worktree, "show", "HEAD:README.md") == "# Still committed\n"
    assert git(worktree, "show", "HEAD:docs/more.md") == "more\n"
    (worktree / "tool.sh").write_text("echo changed\n")
    assert commit_all(git_repo, worktree, BRANCH, "every file", ANN).sha  # not refused whole
    assert git(worktree, "show", "HEAD:docs/more.md") == "more\n"
    assert git(worktree, "show", "HEAD:tool.sh") == "echo changed\n"


def test_a_folder_swapped_for_a_link_is_committed_as_the_link(
    git_repo: Path, worktree: Path, watching: ChangeWatch, tmp_path: Path
) -> None:
    """git refuses to look beyond a link, so the files that were in the folder are dropped from
    the index without it; what the link points at is never read."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "guide.md").write_text("not the worktree's\n")
    for name in ("guide.md", "more.md"):
        (worktree / "docs" / name).unlink()
    (worktree / "docs").rmdir()
    (worktree / "docs").symlink_to(elsewhere)

    assert commit_all(git_repo, worktree, BRANCH, "link", ANN, watch=watching).sha
    tree = committed(worktree)
    assert tree["docs"].startswith("120000")
    assert not any(path.startswith("docs/") for path in tree)
    assert stored(worktree, "docs") == os.fsencode(elsewhere)
    assert left_behind(worktree) == ""


def test_parsed_trees_are_kept_within_a_number_of_entries() -> None:
    """The cache of parsed trees is bounded by entries, not only by trees: a few huge trees
    push the others out, and one larger than the whole bound is not kept at all."""
    cache = LruCache(512, max_weight=10)
    cache.put("small", "a", 3)
    cache.put("medium", "b", 4)
    assert cache.get("small") == "a" and cache.get("medium") == "b"
    cache.put("large", "c", 5)  # 3 + 4 + 5 > 10: the least recently used goes
    assert cache.get("small") is None and cache.get("medium") == "b" and cache.get("large") == "c"
    cache.put("huge", "d", 11)
    assert cache.get("huge") is None and cache.get("large") == "c"
