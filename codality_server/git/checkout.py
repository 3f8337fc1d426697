"""Read-only checkouts of a branch: the files of its tip commit, for agents that only look.

Discovery (and any read-only agent kind) reads the project's default branch, not whatever the
project's own working tree holds. The tip's tree is written out once per commit under a cache
folder (``{cache}/{sha}``), into a temporary folder renamed into place when complete, so a reader
never sees half a checkout; older checkouts of the same cache are removed. Symbolic links and
submodules are left out: nothing in a checkout points outside it.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

from dulwich.object_store import iter_tree_contents
from dulwich.objects import S_ISGITLINK, Blob

from .repository import _commit_at, open_repository


def branch_checkout(repo_path: Path, branch: str, cache: Path) -> Path:
    """A folder holding the files of ``branch``'s tip (made when the tip has moved)."""
    with open_repository(repo_path) as repo:
        commit = _commit_at(repo, branch)
        sha = commit.id.decode()
        target = cache / sha
        if target.is_dir():
            return target
        cache.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{sha[:12]}-", dir=cache))
        try:
            for entry in iter_tree_contents(repo.object_store, commit.tree):
                if entry.path is None or entry.mode is None or entry.sha is None:
                    continue
                if stat.S_ISLNK(entry.mode) or S_ISGITLINK(entry.mode):
                    continue
                blob = repo.object_store[entry.sha]
                if not isinstance(blob, Blob):
                    continue
                path = partial / os.fsdecode(entry.path)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(blob.as_raw_string())
            os.rename(partial, target)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            if not target.is_dir():
                raise
    for old in cache.iterdir():
        if old.name != sha and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)
    return target
