"""What ``git add -A`` would stage at the paths a ``ChangeWatch`` named, found without looking
at any other path: the commit of a one-file turn costs the same in a 5,000- and a 200,000-file
work tree.

Each named path is ``lstat``-ed through the ``Workdir`` (no link followed); a folder is walked,
its committed entries beside what is on disk; untracked names are checked against the ignore
rules by one ``git check-ignore`` per folder depth; files above the cap are left out unread. A
named ``.gitignore`` (it may un-ignore files nobody touched) or a changed file with a second hard
link (the kernel names only the link written through) makes the caller compare every file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass

from dulwich.index import cleanup_mode
from dulwich.object_store import BaseObjectStore
from dulwich.objects import S_ISGITLINK, ObjectID

from .cli import git_in
from .stat_cache import Entry, safe_tree_path, tree_items
from .workdir import Change, LeftOut, Workdir, Worktree, too_large

_Node = tuple[int, ObjectID]  # a tree entry: (mode, id)


@dataclass(frozen=True)
class Staging:
    """The paths ``git add -A`` would look at, the files left out, and whether git attributes
    apply to any of them (then git, not the server, must turn the files into blobs: an ``eol``
    or filter setting changes what is stored)."""

    paths: tuple[bytes, ...]
    left_out: tuple[LeftOut, ...]
    attributes: bool = False


class _Committed:
    """Lookups in one commit's tree."""

    def __init__(self, store: BaseObjectStore, tree_id: ObjectID) -> None:
        self._store = store
        self._root = tree_id

    def _items(self, tree_id: ObjectID) -> dict[bytes, _Node]:
        return tree_items(self._store, tree_id)

    def node(self, path: bytes) -> _Node | None:
        """The entry at ``path`` (a file, link, folder or submodule), None when there is none."""
        node: _Node = (stat.S_IFDIR, self._root)
        for name in path.split(b"/"):
            if not stat.S_ISDIR(node[0]):
                return None
            found = self._items(node[1]).get(name)
            if found is None:
                return None
            node = found
        return node

    def names(self, node: _Node | None) -> list[bytes]:
        """The names in a folder entry (none for anything else)."""
        return list(self._items(node[1])) if node and stat.S_ISDIR(node[0]) else []

    def files_under(self, path: bytes, node: _Node) -> list[bytes]:
        """Every committed file below the folder entry ``node`` at ``path``."""
        found = []
        pending = [(path, node)]
        while pending:
            folder, (_, tree_id) = pending.pop()
            for name, child in self._items(tree_id).items():
                where = folder + b"/" + name
                if stat.S_ISDIR(child[0]):
                    pending.append((where, child))
                elif not S_ISGITLINK(child[0]):
                    found.append(where)
        return found


def outermost(paths: Iterable[bytes]) -> list[bytes]:
    """``paths`` without those inside another of them (a folder stands for its contents)."""
    kept: list[bytes] = []
    for path in sorted(paths, key=lambda p: p.split(b"/")):
        if kept and (path == kept[-1] or path.startswith(kept[-1] + b"/")):
            continue
        kept.append(path)
    return kept


def ignored(where: Worktree, paths: list[bytes]) -> set[bytes]:
    """Which of ``paths`` (a folder's with a trailing ``/``) the ignore rules exclude, by git's
    own matcher (the index not read: only untracked paths are asked about). Each is asked as
    ``./path``: a name starting with ``:`` would otherwise be read as pathspec magic."""
    if not paths:
        return set()
    asked = b"".join(b"./" + path + b"\0" for path in paths)
    asking = ("check-ignore", "-z", "--stdin", "--no-index")
    answer = git_in(where, *asking, stdin=asked, accept=(0, 1))
    return {name.removeprefix(b"./") for name in answer.split(b"\0") if name}


def paths_to_stage(
    store: BaseObjectStore,
    where: Worktree,
    tree_id: ObjectID,
    changed: Iterable[bytes],
    max_file_bytes: int,
) -> Staging | None:
    """What ``git add -A`` would look at among ``changed`` against the commit tree ``tree_id``;
    None when the caller must compare every file instead."""
    named = [path for path in changed if safe_tree_path(path)]
    if any(path.rpartition(b"/")[2] == b".gitignore" for path in named):
        return None
    committed = _Committed(store, tree_id)
    stage: list[bytes] = []
    left_out: list[LeftOut] = []
    with Workdir(where.root, max_file_bytes) as workdir:
        level = outermost(named)
        while level:
            seen = [(path, workdir.lstat(path), committed.node(path)) for path in level]
            asked = [_ignore_name(path, st) for path, st, node in seen if _untracked(st, node)]
            skip = ignored(where, [name for name in asked if name is not None])
            level = []
            for path, st, node in seen:
                if node is not None and S_ISGITLINK(node[0]):
                    continue  # a submodule is not entered, as git add -A leaves it
                if node is not None and stat.S_ISDIR(node[0]) and not _is_dir(st):
                    stage += committed.files_under(path, node)  # the folder is gone
                elif node is not None and not stat.S_ISDIR(node[0]) and (st is None or _is_dir(st)):
                    stage.append(path)  # the file is gone, or a folder took its place
                if st is None or _ignore_name(path, st) in skip:
                    continue
                if _is_dir(st):
                    names = {name for name, _ in workdir.names(path)}
                    if any(name.lower() == b".git" for name in names):
                        return None  # a repository inside: git add -A decides what it is
                    names.update(committed.names(node))
                    level += [path + b"/" + name for name in sorted(names)]
                elif stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                    return None
                elif stat.S_ISREG(st.st_mode) and st.st_size > max_file_bytes:
                    reason = too_large(max_file_bytes)
                    left_out.append(LeftOut(os.fsdecode(path), st.st_size, reason))
                elif _is_file(st):
                    stage.append(path)
        attributes = _attributes_apply(workdir, where, stage)
    return Staging(tuple(dict.fromkeys(stage)), tuple(left_out), attributes)


@dataclass(frozen=True)
class Read:
    """The staged paths as changes, the files left out, and the paths whose file turned out not
    to be one the server read (grown past the cap, or no longer a file or link): those stay as
    committed, and the index is not to be brought in line with them."""

    changes: list[Change]
    left_out: tuple[LeftOut, ...]
    kept: frozenset[bytes]


def read_changes(
    store: BaseObjectStore,
    where: Worktree,
    tree_id: ObjectID,
    staging: Staging,
    max_file_bytes: int,
) -> Read:
    """The staged paths as blobs in ``store`` (each read through the ``Workdir``: no link
    followed, nothing above the cap read), as changes against the tree ``tree_id``."""
    committed = _Committed(store, tree_id)
    changes: list[Change] = []
    left_out = list(staging.left_out)
    kept: set[bytes] = set()
    with Workdir(where.root, max_file_bytes) as workdir:
        for path in staging.paths:
            node = committed.node(path)
            old = node if node is not None and not stat.S_ISDIR(node[0]) else None
            st = workdir.lstat(path)
            blob = workdir.blob(path, st) if st is not None and not _is_dir(st) else None
            new: Entry | None = None
            if isinstance(blob, LeftOut):
                left_out.append(blob)
                kept.add(path)
                new = old
            elif blob is not None and st is not None:
                store.add_object(blob)
                new = (cleanup_mode(st.st_mode), blob.id)
            elif st is not None and not _is_dir(st):  # a FIFO now, or it changed under us
                kept.add(path)
                new = old
            if new != old:
                changes.append((path, old, new))
    return Read(changes, tuple(left_out), frozenset(kept))


def _attributes_apply(workdir: Workdir, where: Worktree, paths: list[bytes]) -> bool:
    """Whether a ``.gitattributes`` in a folder above any of ``paths`` (or the repository's
    ``info/attributes``) may change how git stores them."""
    if (where.common / "info" / "attributes").exists():
        return True
    folders = {b""}
    for path in paths:
        parts = path.split(b"/")
        folders.update(b"/".join(parts[:depth]) for depth in range(1, len(parts)))
    for folder in folders:
        name = folder + b"/.gitattributes" if folder else b".gitattributes"
        if workdir.lstat(name) is not None:
            return True
    return False


def _is_dir(st: os.stat_result | None) -> bool:
    return st is not None and stat.S_ISDIR(st.st_mode)


def _is_file(st: os.stat_result | None) -> bool:
    return st is not None and (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode))


def _untracked(st: os.stat_result | None, node: _Node | None) -> bool:
    """Whether what is on disk at a path has no committed counterpart of its kind."""
    if st is None:
        return False
    if _is_dir(st):
        return node is None or not stat.S_ISDIR(node[0])
    return node is None or stat.S_ISDIR(node[0])


def _ignore_name(path: bytes, st: os.stat_result | None) -> bytes | None:
    if st is None:
        return None
    return path + b"/" if _is_dir(st) else path
