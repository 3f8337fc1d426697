"""Ancestry questions (merge bases, fast-forwards) answered right when commits share a timestamp.

dulwich orders its walk by commit time and breaks ties by SHA, so when several commits carry the
same second (an agent committing and merging main within one second) it can report an older
common ancestor beside the best one, and then say a fast-forward is impossible. Like git's
``remove_redundant``, a base that is an ancestor of another base is dropped here.
"""

from __future__ import annotations

from dulwich.graph import find_merge_base
from dulwich.objects import Commit, ObjectID
from dulwich.repo import Repo

CLOCK_SKEW_SECONDS = 86_400
"""How far a parent's time may lie after its child's before an ancestry walk stops looking."""


def _commit(repo: Repo, commit_id: ObjectID) -> Commit:
    commit = repo[commit_id]
    if not isinstance(commit, Commit):
        raise ValueError(f"{commit_id!r} is not a commit")
    return commit


def is_ancestor(repo: Repo, old: ObjectID, new: ObjectID) -> bool:
    """Whether ``old`` is ``new`` or one of its ancestors.

    The walk skips commits made well before ``old`` (beyond a day of clock skew), so a negative
    answer does not read the whole history.
    """
    if old == new:
        return True
    cutoff = _commit(repo, old).commit_time - CLOCK_SKEW_SECONDS
    seen = {new}
    pending = [new]
    while pending:
        commit = _commit(repo, pending.pop())
        for parent in commit.parents:
            if parent == old:
                return True
            if parent in seen or parent not in repo.object_store:
                continue
            seen.add(parent)
            if _commit(repo, parent).commit_time >= cutoff:
                pending.append(parent)
    return False


def merge_bases(repo: Repo, ours: ObjectID, theirs: ObjectID) -> list[ObjectID]:
    """The best common ancestors of two commits (none when their histories are unrelated)."""
    if is_ancestor(repo, ours, theirs):
        return [ours]
    if is_ancestor(repo, theirs, ours):
        return [theirs]
    bases = find_merge_base(repo, [ours, theirs])
    return [
        base
        for base in bases
        if not any(other != base and is_ancestor(repo, base, other) for other in bases)
    ]
