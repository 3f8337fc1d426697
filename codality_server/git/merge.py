"""Bringing a ticket branch into the default branch, and keeping the tip of discarded work.

The merge is decided before anything is written: the three-way merge is a dry run on trees
(``merge_tree``), so a conflict leaves no moved ref, no markers and no ``MERGE_HEAD``. Every
checkout of the default branch (the user's own working tree, usually) is then checked: if it
holds staged, modified or untracked files at paths the merge changes, the merge is refused and
nothing is touched. Only then is the ref moved (compare-and-swap) and those checkouts updated,
file by file, leaving the user's unrelated edits as they are.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dulwich import porcelain
from dulwich.diff_tree import TreeChange, tree_changes
from dulwich.index import blob_from_path_and_stat, update_working_tree
from dulwich.objects import Commit, ObjectID, TreeEntry
from dulwich.refs import Ref
from dulwich.repo import Repo

from codality_server.domain.errors import Conflict

from .cli import git_path, run_git
from .diff import branch_ref, branch_tip, commit_tree
from .history import is_ancestor, merge_bases
from .stat_cache import Entry, IndexSnapshot, expected_stat, stat_clean
from .workdir import Worktree

Strategy = Literal["merge", "squash"]
MergeKind = Literal["fast_forward", "merge_commit", "squash", "up_to_date"]


@dataclass(frozen=True)
class MergeOutcome:
    """What happened to the default branch; ``before``/``after`` are its old and new tips."""

    kind: MergeKind
    before: str
    after: str
    checkouts_updated: tuple[str, ...]


def new_commit(
    tree: ObjectID, parents: list[ObjectID], message: str, author: tuple[str, str]
) -> Commit:
    """A commit object made now by ``author`` (as author and committer), not yet stored."""
    who = f"{author[0]} <{author[1]}>".encode()
    commit = Commit()
    commit.tree = tree
    commit.parents = parents
    commit.author = commit.committer = who
    commit.author_time = commit.commit_time = int(time.time())
    commit.author_timezone = commit.commit_timezone = 0
    commit.encoding = b"UTF-8"
    commit.message = message.encode()
    return commit


def _merged_tree(repo: Repo, ours: ObjectID, theirs: ObjectID) -> ObjectID:
    """The three-way merged tree (by ``git merge-tree`` where git is installed), or Conflict
    naming the paths that do not merge."""
    if git_path() is not None:
        tree, conflicts = _merge_by_git(repo, ours, theirs)
    else:
        bases = merge_bases(repo, ours, theirs)
        base_tree = commit_tree(repo, bases[0]) if bases else None
        tree, conflicts = porcelain.merge_tree(
            repo, base_tree, commit_tree(repo, ours), commit_tree(repo, theirs)
        )
    if conflicts:
        paths = sorted(os.fsdecode(p) for p in conflicts)
        raise Conflict(
            f"the branch does not merge cleanly: {len(paths)} conflicting file(s)",
            details={"reason": "merge_conflict", "conflicts": paths},
        )
    return ObjectID(tree)


def _merge_by_git(repo: Repo, ours: ObjectID, theirs: ObjectID) -> tuple[bytes, list[bytes]]:
    """``git merge-tree --write-tree``: the merged tree (written to the object store, touching
    no checkout) and the conflicted paths."""
    merge = ["merge-tree", "--write-tree", "--name-only", "--no-messages", "-z"]
    merge += ["--allow-unrelated-histories", ours.decode(), theirs.decode()]
    out = run_git(merge, git_dir=Path(repo.commondir()), accept=(0, 1))
    tree, *paths = out.split(b"\0")
    return tree, sorted({path for path in paths if path})


def _checkouts(repo: Repo, target_ref: Ref) -> list[Path]:
    """Working trees (main or linked) that have ``target_ref`` checked out."""
    found: list[Path] = []
    for info in porcelain.worktree_list(repo):
        if info.bare or info.detached or info.branch != target_ref:
            continue
        found.append(Path(info.path).resolve())
    return found


def open_checkout(repo: Repo, path: Path) -> Repo:
    """A checkout from ``_checkouts``: the repository's own working tree, or a linked one opened
    through the git dir the repository made for it, never through the ``.git`` file in it."""
    if path == Path(repo.path).resolve():
        return Repo(repo.path)
    return Worktree.locate(Path(repo.path), path).open()


@dataclass(frozen=True)
class Checkout:
    """A checkout from ``_checkouts`` as git is to be given it: the repository's own working
    tree, or a linked one by the git dir the repository made for it (never its ``.git`` file)."""

    root: Path
    git_dir: Path
    common_dir: Path | None

    @classmethod
    def of(cls, repo: Repo, path: Path) -> Checkout:
        if path == Path(repo.path).resolve():
            return cls(path, Path(repo.controldir()), None)
        where = Worktree.locate(Path(repo.path), path)
        return cls(where.root, where.admin, where.common)

    def git(self, *args: str) -> bytes:
        return run_git(args, git_dir=self.git_dir, work_tree=self.root, common_dir=self.common_dir)


def _local_edits(checkout: Repo, changes: list[TreeChange]) -> list[str]:
    """Paths the merge would change where the checkout holds work not in its HEAD; the index
    read whole by dulwich, its stat data saying which files need no reading."""
    snapshot = IndexSnapshot.of(checkout)
    entries = {path: (entry.mode, entry.sha) for path, entry in snapshot.entries.items()}

    def unchanged(st: os.stat_result, path: bytes) -> bool:
        return stat_clean(st, expected_stat(snapshot.entries[path], snapshot.mtime_ns))

    return _blocked(os.fsencode(checkout.path), changes, entries, unchanged)


def _local_edits_by_git(checkout: Checkout, changes: list[TreeChange]) -> list[str]:
    """``_local_edits`` by git: ``git ls-files --stage`` of the changed paths alone (a
    conflicted one has no entry: it counts as staged work), and each of those files hashed."""
    names = [":(literal)" + os.fsdecode(_path(change)) for change in changes]
    listing = b"".join(
        checkout.git("ls-files", "--stage", "-z", "--", *names[start : start + _PER_CALL])
        for start in range(0, len(names), _PER_CALL)
    )
    entries: dict[bytes, Entry] = {}
    conflicted: set[bytes] = set()
    for record in listing.split(b"\0"):
        info, _, name = record.partition(b"\t")
        if info:
            mode, sha, stage = info.split(b" ")
            if stage == b"0":
                entries[name] = (int(mode, 8), ObjectID(sha))
            else:
                conflicted.add(name)
    for name in conflicted:
        entries.pop(name, None)
    return _blocked(os.fsencode(checkout.root), changes, entries, lambda st, path: False)


_PER_CALL = 1000
"""Paths named on one ``git ls-files`` command line (it reads no pathspec file)."""


def _path(change: TreeChange) -> bytes:
    old = change.old if change.old and change.old.path else None
    path = (change.new if old is None else old).path  # type: ignore[union-attr]
    assert path is not None
    return path


def _blocked(
    root: bytes,
    changes: list[TreeChange],
    entries: dict[bytes, Entry],
    unchanged: Callable[[os.stat_result, bytes], bool],
) -> list[str]:
    """The paths among ``changes`` where the index (``entries``) or the file on disk differs
    from the merge's old side; ``unchanged`` may say from a stat that a file is its entry."""
    blocked: list[str] = []
    for change in changes:
        old = change.old if change.old and change.old.path else None
        path = _path(change)
        entry = entries.get(path)
        staged_clean = (entry is None and old is None) or (
            entry is not None and old is not None and entry == (old.mode, old.sha)
        )
        if not staged_clean or _worktree_differs(root + b"/" + path, old, entry, unchanged):
            blocked.append(os.fsdecode(path))
    return blocked


def _worktree_differs(
    full: bytes,
    old: TreeEntry | None,
    entry: Entry | None,
    unchanged: Callable[[os.stat_result, bytes], bool],
) -> bool:
    try:
        st = os.lstat(full)
    except FileNotFoundError:
        return old is not None  # a tracked file deleted by the user is their change
    except NotADirectoryError:
        return True  # an untracked file stands where a directory must go
    if old is None or stat.S_ISDIR(st.st_mode):
        return True  # an untracked file or directory would be overwritten
    assert entry is not None and old.path is not None
    if unchanged(st, old.path):
        return False
    return bool(blob_from_path_and_stat(full, st).id != entry[1])


def _nothing_to_merge(branch: str, target: str) -> Conflict:
    return Conflict(
        f"{branch} has no changes to merge into {target}; the ticket stays where it is",
        details={"reason": "no_changes"},
    )


def merge_branch(
    repo_path: Path,
    branch: str,
    target: str,
    strategy: Strategy,
    message: str,
    author: tuple[str, str],
    allow_empty: bool = True,
) -> MergeOutcome:
    """Merge ``branch`` into ``target`` (fast-forward when possible) or squash it onto it.

    Without ``allow_empty``, a branch that would change no file of ``target`` is refused
    (Conflict, reason ``no_changes``) before anything is written.
    """
    with Repo(str(repo_path)) as repo:
        target_ref = branch_ref(target)
        ours, theirs = branch_tip(repo, target), branch_tip(repo, branch)
        if is_ancestor(repo, theirs, ours):
            if not allow_empty:
                raise _nothing_to_merge(branch, target)
            return MergeOutcome("up_to_date", ours.decode(), ours.decode(), ())
        fast_forward = is_ancestor(repo, ours, theirs)
        commit: Commit | None = None
        if strategy == "merge" and fast_forward:
            kind: MergeKind = "fast_forward"
            new_id, new_tree = theirs, commit_tree(repo, theirs)
        else:
            new_tree = (
                commit_tree(repo, theirs) if fast_forward else _merged_tree(repo, ours, theirs)
            )
            squash = strategy == "squash"
            kind = "squash" if squash else "merge_commit"
            parents = [ours] if squash else [ours, theirs]
            commit = new_commit(new_tree, parents, message, author)
            new_id = commit.id
        old_tree = commit_tree(repo, ours)
        changes = list(tree_changes(repo.object_store, old_tree, new_tree))
        if not changes and not allow_empty:
            raise _nothing_to_merge(branch, target)
        if commit is not None:
            repo.object_store.add_object(commit)
        checkouts = move_branch(repo, target_ref, ours, new_id, changes, "merge")
        return MergeOutcome(kind, ours.decode(), new_id.decode(), tuple(map(str, checkouts)))


def move_branch(
    repo: Repo, ref: Ref, old: ObjectID, new: ObjectID, changes: list[TreeChange], action: str
) -> list[Path]:
    """Move ``ref`` from ``old`` to ``new`` (compare-and-swap) and update each checkout of it
    (``changes``, from ``old``'s tree to ``new``'s, are the paths it touches); the checkouts
    updated. Refused before anything is written when a checkout holds work at those paths.

    Where git is installed, the local work is found by ``git ls-files`` of the changed paths
    and the files there hashed, and ``git read-tree -m -u`` updates each checkout's index and
    files as ``git merge`` does, before the ref moves (git checks everything before it writes
    anything; a checkout it refuses, or a ref that moved meanwhile, puts the checkouts already
    updated back): the cost follows what changed, not the checkout's size. Otherwise dulwich
    reads the index whole and writes the files after the ref moved."""
    old_tree, new_tree = commit_tree(repo, old), commit_tree(repo, new)
    checkouts = _checkouts(repo, ref)
    by_git = git_path() is not None
    for path in checkouts:
        if by_git:
            blocked = _local_edits_by_git(Checkout.of(repo, path), changes)
        else:
            with open_checkout(repo, path) as opened:
                blocked = _local_edits(opened, changes)
        if blocked:
            raise Conflict(
                f"{path} has uncommitted changes to files the {action} would change; commit or"
                " stash them first",
                details={"reason": "local_changes", "checkout": str(path), "conflicts": blocked},
            )
    if by_git:
        _update_checkouts_then_move(
            repo, ref, old, new, [Checkout.of(repo, p) for p in checkouts], action
        )
        return checkouts
    _move(repo, ref, old, new, action)
    for path in checkouts:
        with open_checkout(repo, path) as opened:
            update_working_tree(opened, old_tree, new_tree, iter(changes))
    return checkouts


def _update_checkouts_then_move(
    repo: Repo, ref: Ref, old: ObjectID, new: ObjectID, checkouts: list[Checkout], action: str
) -> None:
    old_tree, new_tree = commit_tree(repo, old), commit_tree(repo, new)
    updated: list[Checkout] = []
    try:
        for checkout in checkouts:
            _read_tree(checkout, old_tree, new_tree)
            updated.append(checkout)
        _move(repo, ref, old, new, action)
    except Conflict:
        for checkout in reversed(updated):
            _read_tree(checkout, new_tree, old_tree)
        raise


def _move(repo: Repo, ref: Ref, old: ObjectID, new: ObjectID, action: str) -> None:
    if not repo.refs.set_if_equals(ref, old, new):
        name = os.fsdecode(ref.removeprefix(b"refs/heads/"))
        raise Conflict(f"{name} moved during the {action}; try again")


def _read_tree(checkout: Checkout, old_tree: ObjectID, new_tree: ObjectID) -> None:
    """``git read-tree -m -u`` from one tree to the other, leaving unrelated local work be."""
    try:
        checkout.git("read-tree", "-m", "-u", old_tree.decode(), new_tree.decode())
    except Conflict as refused:
        raise Conflict(
            f"{checkout.root} cannot be updated: {refused}",
            details={"reason": "local_changes", "checkout": str(checkout.root), "conflicts": []},
        ) from None


def keep_branch_tip(repo_path: Path, branch: str, name: str) -> tuple[str, str]:
    """Point ``refs/codality/discarded/{name}`` at the branch tip; returns (ref, sha)."""
    with Repo(str(repo_path)) as repo:
        tip = branch_tip(repo, branch)
        ref = f"refs/codality/discarded/{name}"
        repo.refs[Ref(ref.encode())] = tip
        return ref, tip.decode()
