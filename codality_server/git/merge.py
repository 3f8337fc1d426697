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
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dulwich import porcelain
from dulwich.diff_tree import TreeChange, tree_changes
from dulwich.index import IndexEntry, blob_from_path_and_stat, update_working_tree
from dulwich.objects import Commit, ObjectID, TreeEntry
from dulwich.refs import Ref
from dulwich.repo import Repo

from codality_server.domain.errors import Conflict

from .diff import branch_ref, branch_tip, commit_tree
from .history import is_ancestor, merge_bases
from .stat_cache import IndexSnapshot, expected_stat, stat_clean
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
    """The three-way merged tree, or Conflict naming the paths that do not merge."""
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


def _local_edits(checkout: Repo, changes: list[TreeChange]) -> list[str]:
    """Paths the merge would change where the checkout holds work not in its HEAD."""
    snapshot = IndexSnapshot.of(checkout)
    root = os.fsencode(checkout.path)
    blocked: list[str] = []
    for change in changes:
        old = change.old if change.old and change.old.path else None
        path = (change.new if old is None else old).path  # type: ignore[union-attr]
        assert path is not None
        entry = snapshot.entries.get(path)  # a conflicted path has none: it counts as staged work
        staged_clean = (entry is None and old is None) or (
            entry is not None and old is not None and (entry.sha, entry.mode) == (old.sha, old.mode)
        )
        if not staged_clean or _worktree_differs(root + b"/" + path, old, entry, snapshot):
            blocked.append(os.fsdecode(path))
    return blocked


def _worktree_differs(
    full: bytes, old: TreeEntry | None, entry: IndexEntry | None, snapshot: IndexSnapshot
) -> bool:
    try:
        st = os.lstat(full)
    except FileNotFoundError:
        return old is not None  # a tracked file deleted by the user is their change
    except NotADirectoryError:
        return True  # an untracked file stands where a directory must go
    if old is None or stat.S_ISDIR(st.st_mode):
        return True  # an untracked file or directory would be overwritten
    assert entry is not None
    if stat_clean(st, expected_stat(entry, snapshot.mtime_ns)):
        return False
    return bool(blob_from_path_and_stat(full, st).id != entry.sha)


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
        checkouts = _checkouts(repo, target_ref)
        for path in checkouts:
            with open_checkout(repo, path) as checkout:
                blocked = _local_edits(checkout, changes)
            if blocked:
                raise Conflict(
                    f"{path} has uncommitted changes to files the merge would change; commit or"
                    " stash them first",
                    details={
                        "reason": "local_changes",
                        "checkout": str(path),
                        "conflicts": blocked,
                    },
                )
        if commit is not None:
            repo.object_store.add_object(commit)
        if not repo.refs.set_if_equals(target_ref, ours, new_id):
            raise Conflict(f"{target} moved while merging; try again")
        for path in checkouts:
            with open_checkout(repo, path) as checkout:
                update_working_tree(checkout, old_tree, new_tree, iter(changes))
        return MergeOutcome(kind, ours.decode(), new_id.decode(), tuple(map(str, checkouts)))


def keep_branch_tip(repo_path: Path, branch: str, name: str) -> tuple[str, str]:
    """Point ``refs/codality/discarded/{name}`` at the branch tip; returns (ref, sha)."""
    with Repo(str(repo_path)) as repo:
        tip = branch_tip(repo, branch)
        ref = f"refs/codality/discarded/{name}"
        repo.refs[Ref(ref.encode())] = tip
        return ref, tip.decode()
