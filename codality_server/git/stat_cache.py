"""The index as git uses it: a stat cache that says which files cannot have changed.

Only entries whose ``lstat`` no longer matches their index entry (or that are racily clean) need
their content read. The parsed index is cached, keyed by the index file's own stat, so a second
look at an unchanged worktree costs one ``lstat`` per tracked file.

An index may have been written by someone the server does not trust (an agent that ran ``git
add`` in its worktree, or wrote the file outright), so an entry whose name could reach outside
the work tree (``..``, an absolute path, a ``.git`` segment, an empty segment) is left out, as
git's own ``verify_path`` would refuse it.
"""

from __future__ import annotations

import os
import stat
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from dulwich.errors import ChecksumMismatch
from dulwich.index import ConflictedIndexEntry, Index, IndexEntry
from dulwich.object_store import BaseObjectStore, iter_tree_contents
from dulwich.objects import S_ISGITLINK, ObjectID, Tree
from dulwich.repo import Repo

Entry = tuple[int, ObjectID]  # (mode, blob id)

_TYPE_AND_EXEC = 0o170100  # file type bits plus the owner-exec bit git records
_UNSAFE_SEGMENTS = frozenset({b"", b".", b".."})


class LruCache:
    """A small thread-safe LRU; git work runs in worker threads.

    With ``max_weight`` it also keeps the sum of its items' weights (say, bytes of text) within
    that, dropping the least recently used first: a count alone does not bound big items.
    """

    def __init__(self, size: int, max_weight: int | None = None) -> None:
        self._items: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._size = size
        self._max_weight = max_weight
        self._weight = 0
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
        return None

    def put(self, key: Any, value: Any, weight: int = 0) -> None:
        with self._lock:
            if key in self._items:
                self._weight -= self._items.pop(key)[1]
            if self._max_weight is not None and weight > self._max_weight:
                return
            self._items[key] = (value, weight)
            self._weight += weight
            while len(self._items) > self._size or (
                self._max_weight is not None and self._weight > self._max_weight
            ):
                self._weight -= self._items.popitem(last=False)[1][1]


_INDEXES = LruCache(16)
_TREES = LruCache(16)


_TREE_ITEMS = LruCache(512, max_weight=200_000)
"""Parsed trees, weighed by their entries: a root tree of 4,000 folders is about 1 MB parsed,
so a count alone would let 512 of them hold half a gigabyte."""


def tree_items(store: BaseObjectStore, tree_id: ObjectID) -> dict[bytes, Entry]:
    """One tree's entries by name, parsed once (cached by id alone, as ``flat_tree``): a commit
    at the end of a turn edits the trees its predecessor wrote. Do not mutate the answer."""
    cached: dict[bytes, Entry] | None = _TREE_ITEMS.get(tree_id)
    if cached is None:
        tree = store[tree_id]
        assert isinstance(tree, Tree)
        cached = {item.path: (item.mode, item.sha) for item in tree.iteritems()}
        _TREE_ITEMS.put(tree_id, cached, len(cached))
    return cached


def remember_tree(tree_id: ObjectID, items: dict[bytes, Entry]) -> None:
    """Keep the entries of a tree just written, for ``tree_items``."""
    _TREE_ITEMS.put(tree_id, items, len(items))


def flat_tree(store: BaseObjectStore, tree_id: ObjectID) -> dict[bytes, Entry]:
    """Every blob of a tree by path (cached by id alone: an id names the same content in any
    repository)."""
    cached: dict[bytes, Entry] | None = _TREES.get(tree_id)
    if cached is None:
        cached = {
            e.path: (e.mode, e.sha)
            for e in iter_tree_contents(store, tree_id)
            if e.path is not None and e.mode is not None and e.sha is not None
        }
        _TREES.put(tree_id, cached)
    return cached


def safe_tree_path(path: bytes) -> bool:
    """Whether ``path`` names something inside a work tree (git's ``verify_path``, roughly)."""
    if b"\x00" in path or b"\\" in path:
        return False
    return not any(part in _UNSAFE_SEGMENTS or part.lower() == b".git" for part in path.split(b"/"))


def expected_stat(entry: IndexEntry, index_mtime_ns: int) -> tuple[int, int, int] | None:
    """(size, mtime_ns, type+exec bits) an unchanged file shows to ``lstat``.

    None for racily clean entries (written in the same clock tick as the index, or later): only
    their content can tell, so they are always hashed, as git does.
    """
    mtime = entry.mtime
    mtime_ns = mtime[0] * 1_000_000_000 + mtime[1] if isinstance(mtime, tuple) else int(mtime * 1e9)
    if mtime_ns >= index_mtime_ns:
        return None
    bits = 0o120100 if stat.S_ISLNK(entry.mode) else 0o100000 | (entry.mode & 0o100)
    return entry.size, mtime_ns, bits


def stat_clean(st: os.stat_result, expected: tuple[int, int, int] | None) -> bool:
    """Whether the stat cache proves a file unchanged since the index recorded it."""
    return expected == (st.st_size, st.st_mtime_ns, st.st_mode & _TYPE_AND_EXEC)


@dataclass(frozen=True)
class IndexSnapshot:
    """A parsed index (unmerged and unsafe entries left out), reused while the file is unchanged.

    ``stat_keys`` holds, per checked-out entry, its path and the stat it should show, precomputed
    so the per-call loop is one ``lstat`` and one tuple comparison per file.
    """

    entries: dict[bytes, IndexEntry]
    children: dict[bytes, frozenset[bytes]]  # directory ("" = root) → names tracked inside it
    mtime_ns: int
    stat_keys: tuple[tuple[bytes, tuple[int, int, int] | None], ...] = ()
    unsafe: bool = False  # entries were left out as unsafe (or the file is no regular file)
    readable: bool = True  # False: dulwich cannot read it (a split index): no entries known
    _staged: dict[ObjectID, frozenset[bytes]] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, repo: Repo) -> IndexSnapshot:
        """The index of a checkout the server trusts to name its own index (the user's)."""
        return cls.at(repo.index_path())

    @classmethod
    def at(cls, path: str | os.PathLike[str]) -> IndexSnapshot:
        """The index file at ``path``; a missing one is empty, one that is no regular file (a
        link, a FIFO) is read as empty and ``unsafe``."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return cls({}, {}, 0)
        if not stat.S_ISREG(st.st_mode):
            return cls({}, {}, 0, unsafe=True)
        key = (os.fspath(path), st.st_ino, st.st_size, st.st_mtime_ns)
        cached: IndexSnapshot | None = _INDEXES.get(key)
        if cached is None:
            try:
                index = Index(path)
            except (ChecksumMismatch, ValueError, struct.error):
                # A split index (``core.splitIndex``: the user's choice, which git honours in
                # the worktrees it writes) or a damaged one: every file is then read.
                return cls({}, {}, 0, unsafe=True, readable=False)
            cached = cls._read(index, st.st_mtime_ns)
            _INDEXES.put(key, cached)
        return cached

    @classmethod
    def _read(cls, index: Index, mtime_ns: int) -> IndexSnapshot:
        entries: dict[bytes, IndexEntry] = {}
        children: dict[bytes, set[bytes]] = {}
        keys = []
        unsafe = False
        for name, entry in index.items():
            if not safe_tree_path(name):
                unsafe = True
                continue
            if isinstance(entry, ConflictedIndexEntry):
                continue
            entries[name] = entry
            if not (S_ISGITLINK(entry.mode) or entry.skip_worktree):
                keys.append((name, expected_stat(entry, mtime_ns)))
            while True:
                parent, _, child = name.rpartition(b"/")
                known = parent in children
                children.setdefault(parent, set()).add(child)
                if known or not parent:
                    break
                name = parent
        frozen = {folder: frozenset(names) for folder, names in children.items()}
        return cls(entries, frozen, mtime_ns, tuple(keys), unsafe)

    def entry(self, path: bytes) -> Entry | None:
        found = self.entries.get(path)
        return (found.mode, found.sha) if found is not None else None

    def staged_against(self, tree_id: ObjectID, tree: dict[bytes, Entry]) -> frozenset[bytes]:
        """Paths where the index differs from ``tree`` (memoised per tree)."""
        if tree_id not in self._staged:
            index_side = {name: (e.mode, e.sha) for name, e in self.entries.items()}
            self._staged[tree_id] = frozenset(
                path
                for path in index_side.keys() | tree.keys()
                if index_side.get(path) != tree.get(path)
            )
        return self._staged[tree_id]
