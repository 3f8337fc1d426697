"""A ticket worktree as the server reads it: through the git dir the server made, one directory
at a time, never following a link, never reading a file above a size cap.

The agent can write everything in its worktree — the ``.git`` file naming the worktree's git dir
included — so nothing here reads that file, a ``core.worktree`` or a ``commondir``: the git dir
is the one under the repository's own ``.git/worktrees/`` that names this worktree, the common
dir is the repository's, the work tree is the path the server chose. Files are reached through
directory descriptors opened with ``O_NOFOLLOW``, so a folder the agent swapped for a link
(``src -> /the/data/dir``) is seen as the link it is and never entered, and a link is stored as
a link, its target never read. A file above the cap (a 1.5 GB sparse file) is reported as left
out without a byte of it read.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from dulwich.ignore import IgnoreFilter, IgnoreFilterManager, read_ignore_patterns
from dulwich.index import cleanup_mode
from dulwich.object_store import BaseObjectStore
from dulwich.objects import S_ISGITLINK, Blob, ObjectID
from dulwich.repo import Repo

from codality_server.domain.errors import Conflict

from .stat_cache import Entry, IndexSnapshot, flat_tree, stat_clean

DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024
#: What one live diff reads of the worktree in all: many files each under the cap must not take
#: the server's memory either (a diff holds what it read until it is rendered).
DIFF_READ_BUDGET = 128 * 1024 * 1024
_READ_CHUNK = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_GONE = (FileNotFoundError, NotADirectoryError)

Change = tuple[bytes, Entry | None, Entry | None]  # (path, old, new); None = absent


@dataclass(frozen=True)
class Worktree:
    """Where a ticket worktree's parts are, as the server made them."""

    repo: Path  # the project's repository
    common: Path  # its git dir: objects, refs, config
    admin: Path  # the worktree's own git dir: HEAD, index
    root: Path  # the work tree

    @property
    def index_path(self) -> Path:
        return self.admin / "index"

    def on_branch(self, branch: str) -> bool:
        """Whether the worktree's HEAD is ``branch``, as the server checked it out."""
        return _small_file(self.admin / "HEAD") == b"ref: refs/heads/" + branch.encode()

    def open(self) -> Repo:
        """The worktree as a dulwich repository, for porcelain that needs one: its git dirs and
        work tree given explicitly, so neither its ``.git`` file nor a ``core.worktree`` counts."""
        return Repo(controldir=str(self.admin), commondir=str(self.common), worktree=str(self.root))

    @classmethod
    def locate(cls, repo: Path, root: Path) -> Worktree:
        """The worktree at ``root`` among those the repository registered.

        Each entry of ``.git/worktrees/`` is a real folder (not a link) whose ``gitdir`` file
        names ``{root}/.git``; nothing is read from ``root`` itself.
        """
        common = repo / ".git"
        wanted = os.path.realpath(root)
        try:
            entries = list(os.scandir(common / "worktrees"))
        except _GONE:
            entries = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False) and _names(Path(entry.path), wanted):
                return cls(repo, common, Path(entry.path), root)
        raise Conflict(f"{root} is not a worktree of the repository {repo}")


def _small_file(path: Path) -> bytes | None:
    """The first 4 KiB of a regular file, stripped; None for anything else (a link, a FIFO that
    would block the read, nothing there)."""
    try:
        fd = os.open(path, _FILE_FLAGS)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read(4096).strip()


def _names(admin: Path, wanted: str) -> bool:
    text = _small_file(admin / "gitdir")
    if text is None:
        return False
    named = os.path.dirname(os.path.join(admin, os.fsdecode(text)))  # absolute replaces admin
    return os.path.realpath(named) == wanted


@dataclass(frozen=True)
class LeftOut:
    """A file a commit or diff left out, and why (shown to the agent and the user)."""

    path: str
    size: int
    reason: str

    def describe(self) -> str:
        return f"{self.path} ({human_size(self.size)}): {self.reason}"


def human_size(count: int) -> str:
    """``5 bytes``, ``300.0 MB``, ``1.5 GB``: a size as people read it."""
    size = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{count} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def past_budget() -> str:
    return f"past the {human_size(DIFF_READ_BUDGET)} a diff reads of the worktree in all; not read"


def too_large(max_bytes: int) -> str:
    return (
        f"larger than the {human_size(max_bytes)} a committed file may be"
        " (the max_file_mb setting); it was not read"
    )


class Workdir:
    """Reads a work tree through directory descriptors; close it (or use ``with``) after."""

    def __init__(self, root: Path, max_file_bytes: int, budget: int | None = None) -> None:
        self.root = root
        self.max_file_bytes = max_file_bytes
        #: Bytes of files still to be read in all (None: no limit, a commit streams them out).
        self.budget = budget
        self._dirs: dict[bytes, int | None] = {b"": os.open(root, _DIR_FLAGS & ~os.O_NOFOLLOW)}

    def __enter__(self) -> Workdir:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        for fd in self._dirs.values():
            if fd is not None:
                os.close(fd)
        self._dirs.clear()

    def folder(self, path: bytes) -> int | None:
        """A descriptor of the directory ``path``; None unless every step is a real directory."""
        if path in self._dirs:
            return self._dirs[path]
        parent, _, name = path.rpartition(b"/")
        above = self.folder(parent)
        fd = None
        if above is not None:
            try:
                fd = os.open(name, _DIR_FLAGS, dir_fd=above)
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EACCES):
                    raise
        self._dirs[path] = fd
        return fd

    def lstat(self, path: bytes) -> os.stat_result | None:
        """What is at ``path`` itself (a link is a link); None when nothing is, or when a step on
        the way is not a real directory."""
        parent, _, name = path.rpartition(b"/")
        fd = self.folder(parent)
        if fd is None:
            return None
        try:
            return os.stat(name, dir_fd=fd, follow_symlinks=False)
        except _GONE:
            return None

    def names(self, path: bytes) -> list[tuple[bytes, int]]:
        """The entries of directory ``path`` with their file type (``stat.S_IFDIR`` …), which a
        link reports as ``S_IFLNK``; empty when ``path`` is not a real directory."""
        fd = self.folder(path)
        if fd is None:
            return []
        found = []
        with os.scandir(fd) as listing:
            for item in listing:
                try:
                    if item.is_symlink():
                        kind = stat.S_IFLNK
                    elif item.is_dir(follow_symlinks=False):
                        kind = stat.S_IFDIR
                    elif item.is_file(follow_symlinks=False):
                        kind = stat.S_IFREG
                    else:
                        continue
                except _GONE:
                    continue
                found.append((os.fsencode(item.name), kind))
        return found

    def small_file(self, path: bytes, limit: int = 1 << 20) -> bytes | None:
        """A regular file's first ``limit`` bytes (an ignore file); None for anything else."""
        return self._read(path, limit)

    def blob(self, path: bytes, st: os.stat_result) -> Blob | LeftOut | None:
        """The content at ``path`` as a blob: a link's target text, a regular file's bytes (at
        most ``max_file_bytes``, never more read); None for anything else or a vanished file."""
        if stat.S_ISLNK(st.st_mode):
            target = self._link(path)
            return None if target is None else Blob.from_string(target)
        if not stat.S_ISREG(st.st_mode):
            return None
        cap = self.max_file_bytes
        if st.st_size > cap:
            return LeftOut(os.fsdecode(path), st.st_size, too_large(cap))
        if self.budget is not None and st.st_size > self.budget:
            return LeftOut(os.fsdecode(path), st.st_size, past_budget())
        data = self._read(path, cap + 1)
        if data is None:
            return None
        if len(data) > cap:  # it grew after the stat
            return LeftOut(os.fsdecode(path), len(data), too_large(cap))
        if self.budget is not None:
            self.budget -= len(data)
        return Blob.from_string(data)

    def _link(self, path: bytes) -> bytes | None:
        parent, _, name = path.rpartition(b"/")
        fd = self.folder(parent)
        if fd is None:
            return None
        try:
            return os.readlink(name, dir_fd=fd)
        except OSError:
            return None

    def _read(self, path: bytes, limit: int) -> bytes | None:
        """Up to ``limit`` bytes of the regular file at ``path``, opened without following a
        link (nor blocking on a FIFO); None when it is not a regular file any more."""
        parent, _, name = path.rpartition(b"/")
        fd = self.folder(parent)
        if fd is None:
            return None
        try:
            handle = os.open(name, _FILE_FLAGS, dir_fd=fd)
        except OSError:
            return None
        try:
            if not stat.S_ISREG(os.fstat(handle).st_mode):
                return None
            return _read_at_most(handle, limit)
        finally:
            os.close(handle)


class WorkdirIgnores(IgnoreFilterManager):
    """The work tree's ``.gitignore`` files, read through the ``Workdir`` (a link or a FIFO
    named ``.gitignore`` is no ignore file), plus the repository's ``info/exclude``. No
    user-level excludes file: its name would come from a config the agent may have written."""

    def __init__(self, workdir: Workdir, common: Path) -> None:
        excludes = common / "info" / "exclude"
        extra = [IgnoreFilter.from_path(str(excludes))] if excludes.is_file() else []
        super().__init__(str(workdir.root), extra, False)
        self._workdir = workdir

    def _load_path(self, path: str) -> IgnoreFilter | None:
        if path not in self._path_filters:
            name = os.fsencode(f"{path}/.gitignore" if path else ".gitignore")
            data = self._workdir.small_file(name)
            self._path_filters[path] = (
                None if data is None else IgnoreFilter(read_ignore_patterns(io.BytesIO(data)))
            )
        return self._path_filters[path]

    def _is_dir(self, path: str) -> bool:
        if path.endswith("/"):
            return True
        st = self._workdir.lstat(os.fsencode(path))
        return st is not None and stat.S_ISDIR(st.st_mode)


def _read_at_most(fd: int, limit: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while total < limit:
        chunk = os.read(fd, min(_READ_CHUNK, limit - total))
        if not chunk:
            break
        parts.append(chunk)
        total += len(chunk)
    return b"".join(parts)


@dataclass
class Scan:
    """What ``git add -A`` would change relative to a tree, found through the stat cache.

    ``stats`` holds the stat of each new or changed file as it was read, for the index;
    ``left_out`` the files that stay as they were in the tree.
    """

    changes: list[Change] = field(default_factory=list)
    stats: dict[bytes, os.stat_result] = field(default_factory=dict)
    left_out: list[LeftOut] = field(default_factory=list)


def scan_tree(
    repo: Repo,
    where: Worktree,
    tree_id: ObjectID,
    max_file_bytes: int,
    store: BaseObjectStore,
    budget: int | None = None,
) -> Scan:
    """``scan_worktree`` of the worktree at ``where`` against ``tree_id`` of ``repo``; with a
    ``budget``, files past it (in bytes read in all) are left out as the too large ones are."""
    with Workdir(where.root, max_file_bytes, budget) as workdir:
        return scan_worktree(
            workdir,
            IndexSnapshot.at(where.index_path),
            tree_id,
            flat_tree(repo.object_store, tree_id),
            store,
            WorkdirIgnores(workdir, where.common),
        )


def scan_worktree(
    workdir: Workdir,
    snapshot: IndexSnapshot,
    tree_id: ObjectID,
    tree: dict[bytes, Entry],
    store: BaseObjectStore,
    ignores: IgnoreFilterManager,
) -> Scan:
    """Changes of the work tree against ``tree``; blobs of changed files are added to ``store``.

    Only paths that are staged, stat-dirty or untracked are read.
    """
    scan = Scan()
    on_disk: dict[bytes, Entry | None] = {}

    def take(path: bytes, st: os.stat_result) -> None:
        blob = workdir.blob(path, st)
        if isinstance(blob, LeftOut):
            scan.left_out.append(blob)
            on_disk[path] = tree.get(path)  # stays as committed
        elif blob is None:
            on_disk[path] = None
        else:
            store.add_object(blob)
            on_disk[path] = (cleanup_mode(st.st_mode), blob.id)
            scan.stats[path] = st

    for name, expected in snapshot.stat_keys:
        st = workdir.lstat(name)
        if st is None:
            on_disk[name] = None
        elif not stat_clean(st, expected):
            take(name, st)
    for name, st in _untracked(workdir, snapshot, ignores):
        take(name, st)
    for path in snapshot.staged_against(tree_id, tree) - on_disk.keys():
        staged = snapshot.entries.get(path)
        if staged is not None and staged.size > workdir.max_file_bytes:
            cap = workdir.max_file_bytes
            scan.left_out.append(LeftOut(os.fsdecode(path), staged.size, too_large(cap)))
            on_disk[path] = tree.get(path)
    for path in snapshot.staged_against(tree_id, tree) | on_disk.keys():
        new = on_disk[path] if path in on_disk else snapshot.entry(path)
        old = tree.get(path)
        if old != new:
            scan.changes.append((path, old, new))
    return scan


def _untracked(
    workdir: Workdir, snapshot: IndexSnapshot, ignores: IgnoreFilterManager
) -> Iterator[tuple[bytes, os.stat_result]]:
    """Files and links not in the index and not ignored; ignored directories are not entered.

    Each directory is listed once from its descriptor; a tracked file is passed over on its name
    alone, so only the leftovers are stat-ed and matched against the ignore rules. A tracked
    folder the agent replaced by a link or a file is found here as that link or file.
    """
    pending: list[bytes] = [b""]
    while pending:
        folder = pending.pop()
        prefix = folder + b"/" if folder else b""
        for name, kind in workdir.names(folder):
            rel = prefix + name
            if name == b".git":
                continue
            entry = snapshot.entries.get(rel)
            if kind == stat.S_IFDIR:
                if entry is not None and S_ISGITLINK(entry.mode):
                    continue
                if rel in snapshot.children or not ignores.is_ignored(os.fsdecode(rel) + "/"):
                    pending.append(rel)
            elif entry is None and not ignores.is_ignored(os.fsdecode(rel)):
                st = workdir.lstat(rel)
                if st is not None:
                    yield rel, st
