"""The ``git`` executable for the heavy plumbing on big repositories, run so that nothing the
agent wrote steers it.

Where ``git`` is installed it makes worktrees, stages and commits the agent's work: in C, with
its own stat cache, 5–20x faster than the same steps in Python (``bench/big_repo.py``). dulwich
stays the library and the fallback. Every call names the git dir, the common dir and the work
tree explicitly (``GIT_DIR``, ``GIT_COMMON_DIR``, ``GIT_WORK_TREE``: no ``.git`` file,
``commondir`` file or ``core.worktree`` is read), reads no system or user config, runs no hook
and no fsmonitor, and uses no external diff or textconv program; the repository's own config
(the user's) still applies, as it would to the user's git.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from dulwich.objects import ObjectID

from codality_server.domain.errors import Conflict

from .stat_cache import Entry, LruCache
from .workdir import LeftOut, Workdir, Worktree, too_large

_NEUTRAL = (
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "core.untrackedCache=false",
    f"core.excludesFile={os.devnull}",
    f"core.attributesFile={os.devnull}",
    "core.quotePath=false",
    "diff.external=",
    "diff.noprefix=false",
    "diff.mnemonicPrefix=false",
    "diff.renames=false",
    "gc.auto=0",
    "maintenance.auto=false",
    "safe.directory=*",
)


LOCAL_TIMEOUT_S = 120.0
"""How long one local git command may take; past it git is assumed stuck (a FIFO named
``.gitignore`` blocks it for ever) and the caller falls back to dulwich."""


class GitStuck(Exception):
    """A local git command ran past ``LOCAL_TIMEOUT_S`` and was killed."""


_UNSAFE_NAME = re.compile(rb"(?:^|[\0/])(?:\.{1,2}|\.git|)(?:[\0/]|\Z)|\\", re.IGNORECASE)


SETTLED_S = 1.0
"""How long an index must have been left alone before its check is remembered: longer than the
kernel's timestamp granularity, so a later write always changes its ``ctime``."""

_SAFE_INDEXES = LruCache(64)


def git_may_work_on(where: Worktree) -> bool:
    """Whether git may do a worktree's plumbing: it is installed, and the worktree's index names
    nothing outside the work tree (git would follow ``../../../env``; dulwich skips it). The
    names come from ``git ls-files`` (one pass in C) and are checked with one regex.

    A safe index is remembered by its ``lstat`` (inode, size, mtime, ctime) once it has settled:
    nobody can set a ``ctime``, so any rewrite shows, and an unchanged index (a review reading
    the diff again) costs no ``ls-files``."""
    if git_path() is None:
        return False
    try:
        st = os.lstat(where.index_path)
    except FileNotFoundError:
        return True
    if not stat.S_ISREG(st.st_mode):
        return False
    signature = _signature(st)
    if _SAFE_INDEXES.get(where.index_path) == signature:
        return True
    checked_at = time.time_ns()
    names = git_in(where, "ls-files", "-z", "--cached").rstrip(b"\0")
    if names and _UNSAFE_NAME.search(names) is not None:
        return False
    if st.st_ctime_ns < checked_at - SETTLED_S * 1e9:
        _SAFE_INDEXES.put(where.index_path, signature)
    return True


def index_written_by_git(where: Worktree) -> None:
    """Remember the worktree's index as safe right after git itself wrote it from one
    ``git_may_work_on`` passed (``git add`` refuses a name outside the work tree), so the
    diff that follows a commit runs no ``ls-files``."""
    st = os.lstat(where.index_path)
    _SAFE_INDEXES.put(where.index_path, _signature(st))


def _signature(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def git_path() -> str | None:
    """The ``git`` executable, or None where it is not installed (then dulwich does the work)."""
    if os.environ.get("CODALITY_NO_GIT_CLI"):
        return None
    return shutil.which("git")


def run_git(
    args: Sequence[str],
    *,
    git_dir: Path,
    work_tree: Path | None = None,
    common_dir: Path | None = None,
    index_file: Path | None = None,
    stdin: bytes | None = None,
    extra_env: dict[str, str] | None = None,
    accept: tuple[int, ...] = (0,),
) -> bytes:
    """Run ``git args`` on exactly the directories given; its stdout, Conflict with git's own
    words when it exits with a status not in ``accept``, GitStuck when it hangs."""
    executable = git_path()
    if executable is None:
        raise RuntimeError("git is not installed")
    env = {name: value for name, value in os.environ.items() if not name.startswith("GIT_")}
    env |= {
        "GIT_DIR": str(git_dir),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_NO_REPLACE_OBJECTS": "1",
        "GIT_OPTIONAL_LOCKS": "0",
        "LC_ALL": "C",
    }
    if work_tree is not None:
        env["GIT_WORK_TREE"] = str(work_tree)
    if common_dir is not None:
        env["GIT_COMMON_DIR"] = str(common_dir)
    if index_file is not None:
        env["GIT_INDEX_FILE"] = str(index_file)
    env |= extra_env or {}
    command = [executable]
    for setting in _NEUTRAL:
        command += ["-c", setting]
    try:
        done = subprocess.run(
            [*command, *args],
            input=stdin,
            capture_output=True,
            env=env,
            cwd=work_tree or git_dir,
            check=False,
            timeout=LOCAL_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise GitStuck(f"git {args[0]} took longer than {LOCAL_TIMEOUT_S:g} s") from None
    if done.returncode not in accept:
        words = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise Conflict(f"git {args[0]} failed: {words[-1] if words else done.returncode}")
    return done.stdout


def git_in(
    where: Worktree,
    *args: str,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
    index_file: Path | None = None,
    accept: tuple[int, ...] = (0,),
) -> bytes:
    """git on the worktree, its directories named as the server made them."""
    return run_git(
        args,
        git_dir=where.admin,
        common_dir=where.common,
        work_tree=where.root,
        index_file=index_file,
        stdin=stdin,
        extra_env=env,
        accept=accept,
    )


_STAGEABLE = frozenset({stat.S_IFREG, stat.S_IFLNK, stat.S_IFDIR})


def _stageable(
    root: Path, paths: list[bytes], max_file_bytes: int
) -> tuple[list[bytes], tuple[LeftOut, ...]]:
    """Which of ``paths`` git may stage, and the regular files larger than the cap (sized by
    ``lstat``, never read). A FIFO, socket or device there stays as committed (git refuses to
    stage one, and the whole ``add`` with it)."""
    staged: list[bytes] = []
    left_out: list[LeftOut] = []
    with Workdir(root, max_file_bytes) as workdir:
        for path in paths:
            st = workdir.lstat(path)
            if st is not None and stat.S_ISREG(st.st_mode) and st.st_size > max_file_bytes:
                left_out.append(LeftOut(os.fsdecode(path), st.st_size, too_large(max_file_bytes)))
            elif st is None or stat.S_IFMT(st.st_mode) in _STAGEABLE:
                staged.append(path)  # gone, a file or link, or a folder in a file's place
    return staged, tuple(left_out)


def update_index(where: Worktree, paths: list[bytes] | tuple[bytes, ...]) -> None:
    """Stage the files at ``paths`` as they are (``update-index --add --remove --replace``: git
    lists no folder and compares no other file; the index is read and written once). A path
    beyond a link (a folder the agent swapped for a link to elsewhere) can only have gone: git
    refuses to look there, so its entry is dropped with ``--force-remove``."""
    beyond = _beyond_links(where.root, paths)
    staged = [path for path in paths if path not in beyond]
    if staged:
        update = ("update-index", "--add", "--remove", "--replace", "-z", "--stdin")
        git_in(where, *update, stdin=b"\0".join(staged) + b"\0")
    if beyond:
        forced = ("update-index", "--force-remove", "-z", "--stdin")
        git_in(where, *forced, stdin=b"\0".join(sorted(beyond)) + b"\0")
    index_written_by_git(where)


def _beyond_links(root: Path, paths: list[bytes] | tuple[bytes, ...]) -> set[bytes]:
    """The paths among ``paths`` with a link among the folders above them."""
    link_at: dict[bytes, bool] = {}
    found = set()
    with Workdir(root, 0) as workdir:
        for path in paths:
            parts = path.split(b"/")[:-1]
            for depth in range(1, len(parts) + 1):
                above = b"/".join(parts[:depth])
                if above not in link_at:
                    st = workdir.lstat(above)
                    link_at[above] = st is not None and stat.S_ISLNK(st.st_mode)
                if link_at[above]:
                    found.add(path)
                    break
    return found


def stage_all(where: Worktree, max_file_bytes: int) -> tuple[LeftOut, ...] | None:
    """``git add --all`` in the worktree, leaving out files above the cap unread (git never
    looks at them: ``worktree_status`` reads no file): the paths it names are staged, no
    folder listed twice. The files left out, or None when nothing is there to stage."""
    changed = [item.path for item in worktree_status(where)]
    if not changed:
        return None
    staged, left_out = _stageable(where.root, changed, max_file_bytes)
    update_index(where, staged)
    return left_out


@dataclass(frozen=True)
class Pending:
    """A path where the index or the work tree differs from HEAD, found from stat data alone:
    ``staged``, what ``git add -A`` keeps there unless the file is read (the index's entry, or
    HEAD's for a file whose stat changed; None when the path is gone from the index or the
    disk), and ``read``, whether the file on disk may differ from the index (then it is read to
    know what it holds)."""

    path: bytes
    staged: Entry | None
    read: bool


_NO_ID = b"0" * 40


def worktree_status(where: Worktree) -> list[Pending]:
    """The paths ``git add -A`` would stage differently from HEAD, without a byte of any file
    read: ``diff-index HEAD`` compares HEAD with the index and the index's stat data with the
    disk (a file whose stat changed is named, not hashed), ``ls-files --others`` lists the
    untracked files. (``git status`` would take one process, but it rereads a changed file
    whose index entry has size 0: an empty module the agent grew to 300 MB of holes took its
    git to 304 MB RSS, and a file above the cap would be read whole.) Submodules are not
    entered, and a name that could reach outside the work tree is passed over. A path deleted
    from the index and kept on disk as untracked is read from the disk. The two run side by
    side (each walks the whole work tree: together they take the longer one's time)."""
    listing = ("ls-files", "-z", "--others", "--exclude-standard")
    with ThreadPoolExecutor(max_workers=1) as beside:
        untracked = beside.submit(git_in, where, *listing)
        raw = git_in(
            where,
            "diff-index",
            "-z",
            "--raw",
            "--no-renames",
            "--no-abbrev",
            "--ignore-submodules=all",
            "HEAD",
        )
        others = untracked.result()
    found: dict[bytes, Pending] = {}
    parts = raw.split(b"\0")
    for header, path in zip(parts[0::2], parts[1::2], strict=False):
        if not header.startswith(b":"):
            continue
        old_mode, new_mode, old_sha, new_sha, _ = header[1:].split(b" ")
        if int(new_mode, 8) == 0:  # gone from the index or from the disk
            found[path] = Pending(path, None, False)
        elif new_sha == _NO_ID:  # its stat differs from the index: read it
            kept = (int(old_mode, 8), ObjectID(old_sha)) if int(old_mode, 8) else None
            found[path] = Pending(path, kept, True)
        else:  # staged, and the disk matches the index
            found[path] = Pending(path, (int(new_mode, 8), ObjectID(new_sha)), False)
    for path in others.split(b"\0"):
        if path:
            found[path] = Pending(path, None, True)
    return [item for item in found.values() if _UNSAFE_NAME.search(item.path) is None]
