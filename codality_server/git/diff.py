"""Unified diffs of a ticket's branch, committed work and (optionally) its live worktree.

A working-tree diff through ``porcelain.diff`` hashes every file (435 ms on 5,000 files,
stack-notes §1). Here the worktree is read as ``workdir`` reads it: through the git dir the server
made, with the index as the stat cache, so only entries whose ``lstat`` no longer matches their
index entry (or that are racily clean) are hashed, and never a link's target or a file above the
size cap. Parsed indexes and flattened trees (keyed by their immutable id) are cached between
calls, so a repeated diff costs one ``lstat`` per tracked file plus a walk for untracked files.
"""

from __future__ import annotations

import io
import os
import re
import stat
from dataclasses import dataclass
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
from dulwich.objects import Commit, ObjectID, SubmoduleEncountered
from dulwich.patch import write_object_diff
from dulwich.refs import Ref
from dulwich.repo import Repo

from codality_server.domain.errors import NotFound

from .cli import GitStuck, Pending, git_may_work_on, worktree_status
from .history import is_ancestor, merge_bases
from .stat_cache import Entry, LruCache
from .workdir import (
    DEFAULT_MAX_FILE_BYTES,
    DIFF_READ_BUDGET,
    Change,
    LeftOut,
    Workdir,
    Worktree,
    scan_tree,
)

_HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class FileDiff:
    """One file's part of a diff, with the line ranges a review comment may point at."""

    path: str
    status: str  # added | modified | deleted
    binary: bool
    insertions: int
    deletions: int
    line_ranges: tuple[tuple[int, int], ...]  # inclusive; new side, or old side when deleted

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


@dataclass(frozen=True)
class Diff:
    """A rendered unified diff from ``base`` to ``head`` (``head`` may be a dirty worktree)."""

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


_PATCHES = LruCache(4096)


# --- rendering ----------------------------------------------------------------------------------


def _render(store: BaseObjectStore, changes: list[Change], base: str, head: str) -> Diff:
    """Render file by file; a file's patch depends only on (path, old, new), so it is cached."""
    texts: list[str] = []
    files: list[FileDiff] = []
    for change in sorted(changes, key=lambda c: c[0]):
        rendered: tuple[str, FileDiff] | None = _PATCHES.get(change)
        if rendered is None:
            rendered = _render_file(store, *change)
            _PATCHES.put(change, rendered)
        texts.append(rendered[0])
        files.append(rendered[1])
    return Diff(base=base, head=head, patch="".join(texts), files=tuple(files))


def _render_file(
    store: BaseObjectStore, path: bytes, old: Entry | None, new: Entry | None
) -> tuple[str, FileDiff]:
    buf = io.BytesIO()
    write_object_diff(
        buf,
        store,
        (path if old else None, old[0] if old else None, old[1] if old else None),
        (path if new else None, new[0] if new else None, new[1] if new else None),
    )
    raw = buf.getvalue()
    return raw.decode("utf-8", errors="replace"), _file_diff(path, raw, old is None, new is None)


def _file_diff(path: bytes, raw: bytes, added: bool, deleted: bool) -> FileDiff:
    insertions = deletions = 0
    ranges: list[tuple[int, int]] = []
    binary = False
    in_hunks = False
    for line in raw.split(b"\n"):
        hunk = _HUNK.match(line)
        if hunk:
            in_hunks = True
            start = int(hunk.group(1) if deleted else hunk.group(3))
            count_text = hunk.group(2) if deleted else hunk.group(4)
            count = 1 if count_text is None else int(count_text)
            if count:
                ranges.append((start, start + count - 1))
        elif not in_hunks:
            binary = binary or line.startswith(b"Binary files ")
        elif line.startswith(b"+"):
            insertions += 1
        elif line.startswith(b"-"):
            deletions += 1
    status = "added" if added else "deleted" if deleted else "modified"
    return FileDiff(os.fsdecode(path), status, binary, insertions, deletions, tuple(ranges))


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


def commit_diff(repo_path: Path, old: str, new: str) -> Diff:
    """The diff between two commits (e.g. the default branch before and after a merge)."""
    with Repo(str(repo_path)) as repo:
        old_id, new_id = ObjectID(old.encode()), ObjectID(new.encode())
        changes = _committed_changes(repo, commit_tree(repo, old_id), commit_tree(repo, new_id))
        return _render(repo.object_store, changes, old, new)


def branch_diff(
    repo_path: Path,
    branch: str,
    default_branch: str,
    worktree_path: Path | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    fork: str | None = None,
    budget: int = DIFF_READ_BUDGET,
) -> Diff:
    """The branch against its merge base (``merge_base``, ``fork`` for stacked work); with
    ``worktree_path``, uncommitted work included (read as ``workdir`` reads a worktree: files
    above ``max_file_bytes``, and those past ``budget`` bytes read in all, are left out)."""
    with Repo(str(repo_path)) as repo:
        head = branch_tip(repo, branch)
        base = merge_base(repo, branch, default_branch, fork)
        base_tree = commit_tree(repo, base)
        if worktree_path is None or not worktree_path.is_dir():
            changes = _committed_changes(repo, base_tree, commit_tree(repo, head))
            return _render(repo.object_store, changes, base.decode(), head.decode())
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
                return _render(store, changes, base.decode(), head.decode())
            except GitStuck:
                pass  # dulwich reads the worktree without blocking on anything in it
        scan = scan_tree(repo, where, base_tree, max_file_bytes, extra, budget)
        return _render(store, scan.changes, base.decode(), head.decode())


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
