"""Unified diffs of a ticket's branch, committed work and (optionally) its live worktree.

A working-tree diff through ``porcelain.diff`` hashes every file (435 ms on 5,000 files,
stack-notes §1). Here the worktree is read as ``workdir`` reads it: through the git dir the server
made, with the index as the stat cache, so only entries whose ``lstat`` no longer matches their
index entry (or that are racily clean) are hashed, and never a link's target or a file above the
size cap. Parsed indexes and flattened trees (keyed by their immutable id) are cached between
calls, so a repeated diff costs one ``lstat`` per tracked file plus a walk for untracked files.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dulwich.diff_tree import tree_changes
from dulwich.errors import NotTreeError
from dulwich.index import cleanup_mode
from dulwich.object_store import (
    BaseObjectStore,
    MemoryObjectStore,
    OverlayObjectStore,
    tree_lookup_path,
)
from dulwich.objects import (
    S_ISGITLINK,
    Blob,
    Commit,
    ObjectID,
    ShaFile,
    SubmoduleEncountered,
)
from dulwich.patch import FIRST_FEW_BYTES, write_object_diff
from dulwich.refs import Ref
from dulwich.repo import Repo

from codality_server.domain.errors import NotFound

from .cli import GitStuck, Pending, git_may_work_on, worktree_status
from .history import is_ancestor, merge_bases
from .loose import Counted, blob_size, count_lines, loose_path
from .stat_cache import Entry, LruCache
from .workdir import (
    DEFAULT_MAX_FILE_BYTES,
    DIFF_READ_BUDGET,
    Change,
    LeftOut,
    Workdir,
    Worktree,
    human_size,
    scan_tree,
)

_HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")

#: Patch text one file may show in a diff answer (GitHub's "large diffs are not rendered"): a
#: longer one is listed with its counts, its text never kept — an agent's 500 MB file of lines
#: must not become a 500 MB answer, nor the CLI's and TUI's to page and colour.
FILE_PATCH_LIMIT = 1024 * 1024
#: Patch text one diff answer shows in all; the files after are listed with their counts only.
DIFF_PATCH_LIMIT = 8 * 1024 * 1024
#: Rendered patch text kept between calls, in all (an LRU).
_PATCH_CACHE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class PatchLimits:
    """How much patch text one file, and one diff in all, may show."""

    file: int = FILE_PATCH_LIMIT
    total: int = DIFF_PATCH_LIMIT


@dataclass(frozen=True)
class NotShown:
    """Why a file's patch text was left out of a diff (its counts are still right)."""

    reason: str  # file_too_large | diff_too_large
    message: str

    @classmethod
    def file_too_large(cls, limits: PatchLimits) -> NotShown:
        size = human_size(limits.file)
        return cls("file_too_large", f"its diff is larger than the {size} shown of one file")

    @classmethod
    def diff_too_large(cls, limits: PatchLimits) -> NotShown:
        size = human_size(limits.total)
        return cls("diff_too_large", f"the files before it filled the {size} one diff shows")


@dataclass(frozen=True)
class FileDiff:
    """One file's part of a diff, with the line ranges a review comment may point at."""

    path: str
    status: str  # added | modified | deleted
    binary: bool
    insertions: int
    deletions: int
    line_ranges: tuple[tuple[int, int], ...]  # inclusive; new side, or old side when deleted
    not_shown: NotShown | None = None  # its patch text is not in the diff, and why

    def has_line(self, line: int) -> bool:
        return any(start <= line <= end for start, end in self.line_ranges)

    def view(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": self.status,
            "binary": self.binary,
            "insertions": self.insertions,
            "deletions": self.deletions,
        }

    def not_shown_view(self) -> dict[str, Any]:
        assert self.not_shown is not None
        return {**self.view(), "reason": self.not_shown.reason, "message": self.not_shown.message}


@dataclass(frozen=True)
class Diff:
    """A rendered unified diff from ``base`` to ``head`` (``head`` may be a dirty worktree).

    ``patch`` holds the text of the files shown; every file, shown or not, is in ``files``.
    """

    base: str
    head: str
    patch: str
    files: tuple[FileDiff, ...]

    def file(self, path: str) -> FileDiff | None:
        return next((f for f in self.files if f.path == path), None)

    def stats(self) -> dict[str, Any]:
        return {
            "files_changed": len(self.files),
            "insertions": sum(f.insertions for f in self.files),
            "deletions": sum(f.deletions for f in self.files),
            "files": [f.view() for f in self.files],
        }

    def not_shown(self) -> list[dict[str, Any]]:
        """The files whose patch text was left out, with their counts and why."""
        return [f.not_shown_view() for f in self.files if f.not_shown is not None]


# A file's rendering: its patch text (None when over the per-file limit), the text's size in
# bytes, and its counts.
Rendered = tuple[str | None, int, FileDiff]
_PATCHES = LruCache(4096, max_weight=_PATCH_CACHE_BYTES)


# --- rendering ----------------------------------------------------------------------------------


def _render(
    store: BaseObjectStore, changes: list[Change], base: str, head: str, limits: PatchLimits
) -> Diff:
    """Render file by file; a file's patch depends only on (path, old, new), so it is cached.

    Each file's text is kept only within ``limits.file``; once a file's text does not fit in
    what is left of ``limits.total``, it and every file after are listed without their text.
    """
    texts: list[str] = []
    files: list[FileDiff] = []
    room = limits.total
    for change in sorted(changes, key=lambda c: c[0]):
        key = (change, limits.file)
        rendered: Rendered | None = _PATCHES.get(key)
        if rendered is None:
            rendered = _render_file(store, *change, limits)
            _PATCHES.put(key, rendered, weight=rendered[1] if rendered[0] is not None else 0)
        text, size, file = rendered
        if text is not None and size > room:
            room = -1  # no file after this one is shown either
        if text is None or room < 0:
            shown_as = file.not_shown or NotShown.diff_too_large(limits)
            files.append(replace(file, not_shown=shown_as))
            continue
        room -= size
        texts.append(text)
        files.append(file)
    return Diff(base=base, head=head, patch="".join(texts), files=tuple(files))


def _render_file(
    store: BaseObjectStore, path: bytes, old: Entry | None, new: Entry | None, limits: PatchLimits
) -> Rendered:
    """The file's patch, written line by line into a ``_PatchSink`` that counts every line and
    keeps the text only within the per-file limit. A file added or deleted whole whose content
    alone passes the limit is counted instead (``_whole``): no list of its lines, no diff.
    Each side's blob is read at most once and handed to the diff as read."""
    blobs: dict[ObjectID, ShaFile] = {}
    whole = new if old is None else old if new is None else None
    if whole is not None and not S_ISGITLINK(whole[0]):
        found = _whole(store, whole[1], limits.file)
        if isinstance(found, Counted) and not found.binary:
            return None, 0, _counted_file(path, old is None, found, limits)
        # A binary file's patch is one line, "Binary files … differ": its first bytes tell.
        blobs[whole[1]] = Blob.from_string(found.head) if isinstance(found, Counted) else found
    for entry in (old, new):
        if entry is not None and not S_ISGITLINK(entry[0]) and entry[1] not in blobs:
            blobs[entry[1]] = store[entry[1]]
    sink = _PatchSink(limits.file, deleted=new is None)
    write_object_diff(
        sink,  # type: ignore[arg-type]  # dulwich calls only write and writelines
        blobs,  # type: ignore[arg-type]  # and looks blobs up by id, these ones
        (path if old else None, old[0] if old else None, old[1] if old else None),
        (path if new else None, new[0] if new else None, new[1] if new else None),
    )
    status = "added" if old is None else "deleted" if new is None else "modified"
    file = sink.file_diff(os.fsdecode(path), status)
    if sink.over:
        return None, sink.size, replace(file, not_shown=NotShown.file_too_large(limits))
    return sink.text(), sink.size, file


def _whole(store: BaseObjectStore, sha: ObjectID, limit: int) -> Counted | ShaFile:
    """A file added or deleted whole: counted when above ``limit`` — as its loose object
    inflates, or else from the blob dulwich reads — or the object itself, to be diffed."""
    loose = loose_path(store, sha)
    size = None if loose is None else blob_size(loose)
    if loose is not None and size is not None and size > limit:
        counted = count_lines(loose)
        if counted is not None:
            return counted
    blob = store[sha]
    if not isinstance(blob, Blob) or blob.raw_length() <= limit:
        return blob
    content = blob.as_raw_string()  # one chunk: the same bytes, not a copy
    lines = content.count(b"\n") + (0 if content.endswith(b"\n") else 1)
    return Counted(lines, content[:FIRST_FEW_BYTES])


def _counted_file(path: bytes, added: bool, counted: Counted, limits: PatchLimits) -> FileDiff:
    lines = counted.lines
    return FileDiff(
        os.fsdecode(path),
        "added" if added else "deleted",
        False,
        lines if added else 0,
        0 if added else lines,
        ((1, lines),),
        NotShown.file_too_large(limits),
    )


class _PatchSink:
    """Where ``write_object_diff`` writes one file's patch: each line is counted (insertions,
    deletions, the hunks' line ranges, a binary note) as it comes, and the text is kept only
    until it passes ``limit`` bytes — past that, none of it is held."""

    def __init__(self, limit: int, deleted: bool) -> None:
        self.limit = limit
        self.deleted = deleted
        self.size = 0
        self.over = False
        self.insertions = self.deletions = 0
        self.binary = False
        self._ranges: list[tuple[int, int]] = []
        self._kept: list[bytes] = []
        self._partial = b""
        self._in_hunks = False

    def write(self, data: bytes) -> int:
        self.writelines((data,))
        return len(data)

    def writelines(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            self.size += len(chunk)
            if not self.over:
                self.over = self.size > self.limit
                if self.over:
                    self._kept.clear()
                else:
                    self._kept.append(chunk)
            lines = (self._partial + chunk).split(b"\n")
            self._partial = lines.pop()
            for line in lines:
                self._count(line)

    def _count(self, line: bytes) -> None:
        hunk = _HUNK.match(line)
        if hunk:
            self._in_hunks = True
            start = int(hunk.group(1) if self.deleted else hunk.group(3))
            count_text = hunk.group(2) if self.deleted else hunk.group(4)
            count = 1 if count_text is None else int(count_text)
            if count:
                self._ranges.append((start, start + count - 1))
        elif not self._in_hunks:
            self.binary = self.binary or line.startswith(b"Binary files ")
        elif line.startswith(b"+"):
            self.insertions += 1
        elif line.startswith(b"-"):
            self.deletions += 1

    def file_diff(self, path: str, status: str) -> FileDiff:
        if self._partial:
            self._count(self._partial)
            self._partial = b""
        ranges = tuple(self._ranges)
        return FileDiff(path, status, self.binary, self.insertions, self.deletions, ranges)

    def text(self) -> str:
        return b"".join(self._kept).decode("utf-8", errors="replace")


# --- public API ---------------------------------------------------------------------------------


def branch_ref(branch: str) -> Ref:
    return Ref(b"refs/heads/" + branch.encode())


def branch_tip(repo: Repo, branch: str) -> ObjectID:
    """The commit a branch points at; NotFound when there is no such branch."""
    try:
        return repo.refs[branch_ref(branch)]
    except KeyError:
        raise NotFound(f"branch {branch!r} does not exist") from None


def commit_tree(repo: Repo, commit_id: ObjectID) -> ObjectID:
    commit = repo[commit_id]
    assert isinstance(commit, Commit)
    return ObjectID(commit.tree)


def merge_base(repo: Repo, branch: str, default_branch: str, fork: str | None = None) -> ObjectID:
    """The merge base of ``branch`` with ``default_branch`` (the branch's root when unrelated).

    ``fork``, the commit a stacked branch started from (its dependency's tip then), is the base
    instead when it lies between that merge base and the branch: after the dependency was
    squash-merged the merge base is older and would show the dependency's work as this one's.
    """
    head = branch_tip(repo, branch)
    bases = merge_bases(repo, branch_tip(repo, default_branch), head)
    base = bases[0] if bases else head
    if fork is not None:
        start = ObjectID(fork.encode())
        if (
            start in repo.object_store
            and is_ancestor(repo, start, head)
            and is_ancestor(repo, base, start)
        ):
            return start
    return base


def _committed_changes(repo: Repo, old_tree: ObjectID, new_tree: ObjectID) -> list[Change]:
    return [
        (
            (change.new or change.old).path,  # type: ignore[union-attr]
            (change.old.mode, change.old.sha) if change.old and change.old.path else None,
            (change.new.mode, change.new.sha) if change.new and change.new.path else None,
        )
        for change in tree_changes(repo.object_store, old_tree, new_tree)
    ]


def commit_diff(repo_path: Path, old: str, new: str, limits: PatchLimits = PatchLimits()) -> Diff:
    """The diff between two commits (e.g. the default branch before and after a merge)."""
    with Repo(str(repo_path)) as repo:
        old_id, new_id = ObjectID(old.encode()), ObjectID(new.encode())
        changes = _committed_changes(repo, commit_tree(repo, old_id), commit_tree(repo, new_id))
        return _render(repo.object_store, changes, old, new, limits)


def branch_diff(
    repo_path: Path,
    branch: str,
    default_branch: str,
    worktree_path: Path | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    fork: str | None = None,
    budget: int = DIFF_READ_BUDGET,
    limits: PatchLimits = PatchLimits(),
) -> Diff:
    """The branch against its merge base (``merge_base``, ``fork`` for stacked work); with
    ``worktree_path``, uncommitted work included (read as ``workdir`` reads a worktree: files
    above ``max_file_bytes``, and those past ``budget`` bytes read in all, are left out).
    Patch text past ``limits`` is not rendered; those files keep their counts."""
    with Repo(str(repo_path)) as repo:
        head = branch_tip(repo, branch)
        base = merge_base(repo, branch, default_branch, fork)
        base_tree = commit_tree(repo, base)
        if worktree_path is None or not worktree_path.is_dir():
            changes = _committed_changes(repo, base_tree, commit_tree(repo, head))
            return _render(repo.object_store, changes, base.decode(), head.decode(), limits)
        where = Worktree.locate(repo_path, worktree_path)
        extra = MemoryObjectStore()
        store = OverlayObjectStore([extra, repo.object_store])
        if where.on_branch(branch) and git_may_work_on(where):
            try:
                committed = _committed_changes(repo, base_tree, commit_tree(repo, head))
                pending = worktree_status(where)
                changes = _with_work(
                    repo, base_tree, committed, pending, where, extra, max_file_bytes, budget
                )
                return _render(store, changes, base.decode(), head.decode(), limits)
            except GitStuck:
                pass  # dulwich reads the worktree without blocking on anything in it
        scan = scan_tree(repo, where, base_tree, max_file_bytes, extra, budget)
        return _render(store, scan.changes, base.decode(), head.decode(), limits)


def _with_work(
    repo: Repo,
    base_tree: ObjectID,
    committed: list[Change],
    pending: list[Pending],
    where: Worktree,
    store: BaseObjectStore,
    max_file_bytes: int,
    budget: int,
) -> list[Change]:
    """The branch's committed changes with the uncommitted ones ``worktree_status`` named laid
    over them: each file that may differ on disk is read through ``Workdir`` (no link followed,
    nothing above the cap read: such a file keeps what it had) into ``store``."""
    old = {path: before for path, before, _ in committed}
    new = {path: after for path, _, after in committed}
    with Workdir(where.root, max_file_bytes, budget) as workdir:
        for item in pending:
            new[item.path] = _on_disk(workdir, item, store) if item.read else item.staged
            if item.path not in old:
                old[item.path] = _entry_at(repo, base_tree, item.path)
    return [(path, old[path], after) for path, after in new.items() if old[path] != after]


def _on_disk(workdir: Workdir, item: Pending, store: BaseObjectStore) -> Entry | None:
    st = workdir.lstat(item.path)
    blob = None if st is None else workdir.blob(item.path, st)
    if isinstance(blob, LeftOut):
        return item.staged
    if blob is None or st is None:
        return None
    store.add_object(blob)
    return cleanup_mode(st.st_mode), blob.id


def _entry_at(repo: Repo, tree_id: ObjectID, path: bytes) -> Entry | None:
    """The entry at ``path`` in the tree (None when there is none), looked up level by level."""
    try:
        mode, sha = tree_lookup_path(repo.object_store.__getitem__, tree_id, path)
    except (KeyError, NotTreeError, SubmoduleEncountered):
        return None
    return None if stat.S_ISDIR(mode) else (mode, sha)
