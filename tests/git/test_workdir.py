"""The server's commit of a worktree reads it as ``workdir`` does: through the git dir the server
made, no link followed, no file above the cap read (issue 19, items 2 and 6)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from dulwich.index import Index, IndexEntry

from codality_server.domain.errors import Conflict
from codality_server.git import cli
from codality_server.git.merge import merge_branch
from codality_server.git.workdir import Worktree
from codality_server.git.worktrees import commit_all, create_worktree
from tests.conftest import git, point_git_file_at_own_git_dir

pytestmark = pytest.mark.usefixtures("git_backend")

ANN = ("Ann", "ann@example.com")
BRANCH = "codality/1-thing"
MB = 1024 * 1024


@pytest.fixture
def worktree(git_repo: Path, tmp_path: Path) -> Path:
    path = tmp_path / "worktrees" / "1"
    create_worktree(git_repo, path, BRANCH, "main")
    return path


def committed(repo: Path) -> dict[str, str]:
    """Path → mode of every entry at the branch tip, from the git CLI."""
    listing = git(repo, "ls-tree", "-r", BRANCH)
    return {line.split("\t")[1]: line.split()[0] for line in listing.splitlines()}


def test_a_sparse_file_is_left_out_unread_and_named(git_repo: Path, worktree: Path) -> None:
    """1.5 GB of holes (attack 6): the commit runs in a child process whose peak RSS is read."""
    with open(worktree / "big.bin", "wb") as handle:
        handle.truncate(1536 * MB)
    (worktree / "small.txt").write_text("kept\n")
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from codality_server.git.worktrees import commit_all
        result = commit_all(Path({str(git_repo)!r}), Path({str(worktree)!r}), {BRANCH!r},
                            "work", ("Ann", "ann@example.com"), {10 * MB})
        print(result.sha)
        print([item.describe() for item in result.left_out])
        # VmHWM is this process's own peak: ru_maxrss keeps the forking parent's across exec.
        status = Path("/proc/self/status").read_text()
        print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    sha, left_out, peak_kb = done.stdout.splitlines()

    assert int(peak_kb) < 200 * 1024, f"peak RSS {int(peak_kb) // 1024} MB"
    assert "big.bin (1.5 GB): larger than the 10.0 MB" in left_out
    assert git(git_repo, "rev-parse", BRANCH).strip() == sha
    assert "small.txt" in committed(git_repo) and "big.bin" not in committed(git_repo)
    assert git(worktree, "status", "--porcelain") == "?? big.bin\n"


def test_the_cap_applies_to_tracked_files_that_grow(git_repo: Path, worktree: Path) -> None:
    (worktree / "src" / "app.py").write_bytes(b"x" * (2 * MB))
    (worktree / "README.md").write_text("# Changed\n")

    result = commit_all(git_repo, worktree, BRANCH, "work", ANN, 1 * MB)

    assert [item.path for item in result.left_out] == ["src/app.py"]
    assert git(git_repo, "show", f"{BRANCH}:src/app.py").startswith("def greet")
    assert git(git_repo, "show", f"{BRANCH}:README.md") == "# Changed\n"
    assert git(worktree, "status", "--porcelain") == " M src/app.py\n"


def test_links_are_committed_as_links_and_never_entered(
    git_repo: Path, worktree: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not yours\n")
    for name in os.listdir(worktree / "src"):
        os.unlink(worktree / "src" / name)
    os.rmdir(worktree / "src")
    os.symlink(outside, worktree / "src")
    os.symlink(outside / "secret.txt", worktree / "peek")

    sha = commit_all(git_repo, worktree, BRANCH, "links", ANN).sha

    assert sha is not None
    tree = committed(git_repo)
    assert tree["src"] == "120000" and tree["peek"] == "120000"
    assert not any(name.startswith("src/") for name in tree)
    assert git(git_repo, "cat-file", "-p", f"{BRANCH}:peek") == str(outside / "secret.txt")
    assert "not yours" not in git(git_repo, "log", "-p", "-1", BRANCH)
    git(git_repo, "fsck")


def test_commit_matches_git_add_all(git_repo: Path, worktree: Path, tmp_path: Path) -> None:
    """A file giving way to a folder and back, an ignored folder, an executable, a deletion:
    the tree is the one ``git add -A`` makes in a copy of the same worktree."""
    (worktree / "README.md").unlink()
    (worktree / "README.md").mkdir()
    (worktree / "README.md" / "inside.txt").write_text("now a folder\n")
    (worktree / "src" / "util.py").unlink()
    (worktree / ".gitignore").write_text("build/\n*.log\n")
    (worktree / "build").mkdir()
    (worktree / "build" / "out.o").write_text("binary\n")
    (worktree / "debug.log").write_text("log\n")
    (worktree / "run.sh").write_text("#!/bin/sh\n")
    (worktree / "run.sh").chmod(0o755)
    (worktree / "deep" / "er").mkdir(parents=True)
    (worktree / "deep" / "er" / "file.txt").write_text("deep\n")
    twin = tmp_path / "twin"
    git(git_repo, "worktree", "add", "-q", "--no-checkout", "--detach", str(twin), BRANCH)
    subprocess.run(["cp", "-a", f"{worktree}/.", str(twin)], check=True)
    (twin / ".git").write_text(f"gitdir: {git_repo}/.git/worktrees/twin\n")
    git(twin, "add", "-A")
    expected = git(twin, "write-tree").strip()

    sha = commit_all(git_repo, worktree, BRANCH, "shapes", ANN).sha

    assert git(git_repo, "rev-parse", f"{sha}^{{tree}}").strip() == expected
    assert git(worktree, "status", "--porcelain") == ""
    git(git_repo, "fsck")


def test_a_fifo_is_neither_read_nor_committed(
    git_repo: Path, worktree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A FIFO named ``.gitignore`` blocks git for ever: it is killed and dulwich takes over."""
    monkeypatch.setattr(cli, "LOCAL_TIMEOUT_S", 2.0)
    os.mkfifo(worktree / "pipe")
    os.mkfifo(worktree / ".gitignore")
    (worktree / "real.txt").write_text("real\n")

    sha = commit_all(git_repo, worktree, BRANCH, "fifo", ANN).sha

    assert sha is not None
    assert "real.txt" in committed(git_repo) and "pipe" not in committed(git_repo)


def test_the_worktree_is_found_without_its_git_file(git_repo: Path, worktree: Path) -> None:
    """The ``.git`` file is the agent's to rewrite; the server's record of the worktree is the
    repository's ``.git/worktrees/<id>`` naming it."""
    admin = Path(git(worktree, "rev-parse", "--absolute-git-dir").strip())
    (worktree / ".git").write_text("gitdir: /nowhere\n")

    assert Worktree.locate(git_repo, worktree).admin == admin
    (worktree / "new.txt").write_text("new\n")
    assert commit_all(git_repo, worktree, BRANCH, "still works", ANN).sha is not None
    assert "new.txt" in committed(git_repo)

    elsewhere = worktree.parent / "2"
    elsewhere.mkdir()
    (elsewhere / ".git").write_text(f"gitdir: {admin}\n")
    with pytest.raises(Conflict):
        Worktree.locate(git_repo, elsewhere)


def test_a_merge_never_writes_where_a_worktrees_git_file_points(
    git_repo: Path, worktree: Path, tmp_path: Path
) -> None:
    """The agent (with a writable git dir) makes its worktree claim main and points its ``.git``
    at a git dir whose ``core.worktree`` is a folder of the user's (a copy of the project): a
    merge into main updates the checkouts of main, and must not write into that folder."""
    victim = tmp_path / "victim"
    git(git_repo, "worktree", "add", "-q", "--detach", str(victim), "main")
    (victim / ".git").unlink()
    before = (victim / "src" / "app.py").read_text()
    admin = Path(git(worktree, "rev-parse", "--absolute-git-dir").strip())
    evil = point_git_file_at_own_git_dir(worktree, git_repo, victim)
    (evil / "index").write_bytes((admin / "index").read_bytes())
    git(git_repo, "checkout", "-q", "-b", "side")
    (git_repo / "src" / "app.py").write_text("def greet(name):\n    return 'changed'\n")
    git(git_repo, "commit", "-qam", "side change")
    git(git_repo, "checkout", "-q", "main")
    (admin / "HEAD").write_text("ref: refs/heads/main\n")

    merge_branch(git_repo, "side", "main", "merge", "merge side", ANN)

    assert (victim / "src" / "app.py").read_text() == before
    assert (git_repo / "src" / "app.py").read_text().endswith("'changed'\n")


def test_the_repositorys_hooks_and_fsmonitor_never_run_for_the_server(
    git_repo: Path, tmp_path: Path
) -> None:
    """The config and hooks an agent could write (without a sandbox) into the repository's git
    dir: the user's own git runs them, the server's never does."""
    marker = tmp_path / "ran"
    script = tmp_path / "payload.sh"
    script.write_text(f'#!/bin/sh\necho "$0 $*" >> {marker}\n')
    script.chmod(0o755)
    hooks = git_repo / ".git" / "hooks"
    for hook in (
        "post-checkout",
        "pre-commit",
        "post-commit",
        "commit-msg",
        "reference-transaction",
    ):
        (hooks / hook).write_text(f"#!/bin/sh\n{script} {hook}\n")
        (hooks / hook).chmod(0o755)
    git(git_repo, "config", "core.fsmonitor", str(script))
    path = tmp_path / "worktrees" / "1"

    create_worktree(git_repo, path, BRANCH, "main")
    (path / "new.txt").write_text("new\n")
    assert commit_all(git_repo, path, BRANCH, "work", ANN).sha is not None

    assert not marker.exists(), marker.read_text()
    git(path, "status")  # the control: the user's git does run what the config names
    assert marker.exists()


def test_an_index_entry_climbing_out_is_never_committed(
    git_repo: Path, worktree: Path, tmp_path: Path
) -> None:
    """An index the agent wrote (its git dir writable) naming ``../../secret``: git would read
    it, so the server's git is not used on that index, and dulwich skips the entry."""
    (tmp_path / "secret").write_text("the server's secret\n")
    admin = Path(git(worktree, "rev-parse", "--absolute-git-dir").strip())
    index = Index(str(admin / "index"))
    entry = index[b"README.md"]
    assert isinstance(entry, IndexEntry)
    index[b"../../secret"] = dataclasses.replace(entry, size=0, mtime=(0, 0))
    index.write()
    (worktree / "new.txt").write_text("new\n")

    assert commit_all(git_repo, worktree, BRANCH, "work", ANN).sha is not None

    assert "the server's secret" not in git(git_repo, "log", "-p", BRANCH)
    assert "new.txt" in committed(git_repo)
