"""Ticket worktrees: one linked git worktree per ticket, on its own branch, made with dulwich,
and the commit of the work the agent leaves in it.

Everything here is synchronous (dulwich is); services call it through ``asyncio.to_thread``. The
result is an ordinary linked worktree that the ``git`` CLI sees (``git worktree list``).
"""

from __future__ import annotations

import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from dulwich import porcelain
from dulwich.index import Index, index_entry_from_stat
from dulwich.object_store import BaseObjectStore, MemoryObjectStore
from dulwich.objects import ObjectID, Tree
from dulwich.refs import Ref
from dulwich.repo import Repo

from codality_server.domain.errors import Conflict

from .cli import (
    GitStuck,
    git_in,
    git_may_work_on,
    git_path,
    index_written_by_git,
    run_git,
    stage_all,
    update_index,
    worktree_status,
)
from .diff import branch_tip, commit_tree
from .history import is_ancestor
from .merge import new_commit
from .staging import paths_to_stage, read_changes
from .stat_cache import Entry, IndexSnapshot, remember_tree, tree_items
from .watch import ChangeWatch
from .workdir import (
    DEFAULT_MAX_FILE_BYTES,
    Change,
    LeftOut,
    Scan,
    Worktree,
    scan_tree,
)

_SLUG_BAD = re.compile(r"[^a-z0-9]+")


def branch_name(number: int, title: str) -> str:
    """``codality/{number}-{title-slug}``; the slug is short and safe for a ref name."""
    slug = _SLUG_BAD.sub("-", title.lower()).strip("-")[:40].strip("-")
    return f"codality/{number}-{slug}" if slug else f"codality/{number}"


def _head(branch: str) -> Ref:
    return Ref(f"refs/heads/{branch}".encode())


def _registered(repo: Repo, worktree_path: Path) -> bool:
    wanted = worktree_path.resolve()
    return any(Path(info.path).resolve() == wanted for info in porcelain.worktree_list(repo))


def create_worktree(
    repo_path: Path, worktree_path: Path, branch: str, base_branch: str
) -> str | None:
    """Check ``branch`` out at ``worktree_path``, creating the branch from ``base_branch``;
    returns the commit a new branch starts at (None when the branch was there already).

    A worktree already registered at that path is reused as it is (later runs of a ticket keep
    their work); an existing branch is checked out rather than reset.
    """
    with Repo(str(repo_path)) as repo:
        if _registered(repo, worktree_path) and worktree_path.exists():
            return None
        porcelain.worktree_prune(repo)
        if worktree_path.exists() and any(worktree_path.iterdir()):
            raise Conflict(f"{worktree_path} exists and is not a worktree of {repo_path}")
        ref = _head(branch)
        started: str | None = None
        if ref not in repo.refs:
            base = _head(base_branch)
            if base not in repo.refs:
                raise Conflict(f"the branch {base_branch!r} to start from does not exist")
            repo.refs[ref] = repo.refs[base]
            started = repo.refs[base].decode()
        worktree_path.parent.mkdir(parents=True, exist_ok=True)
        if worktree_path.exists():
            worktree_path.rmdir()
        if git_path() is not None:
            add = ["worktree", "add", "--quiet", str(worktree_path), branch]
            run_git(add, git_dir=Path(repo.commondir()))
            return started
        try:
            porcelain.worktree_add(repo, path=str(worktree_path), branch=branch)
        except ValueError as exc:
            raise Conflict(f"cannot check out {branch}: {exc}") from None
        return started


def containing_branch(repo_path: Path, branches: list[str]) -> str | None:
    """The one of ``branches`` whose tip contains every other's tip (a stack's top), if any."""
    with Repo(str(repo_path)) as repo:
        tips = {name: repo.refs[_head(name)] for name in branches}
        for name, tip in tips.items():
            if all(is_ancestor(repo, other, tip) for other in tips.values()):
                return name
    return None


def remove_worktree(repo_path: Path, worktree_path: Path, branch: str | None) -> None:
    """Remove the worktree (and its files) and, when given, the branch."""
    with Repo(str(repo_path)) as repo:
        if _registered(repo, worktree_path):
            porcelain.worktree_remove(repo, path=str(worktree_path), force=True)
        if worktree_path.exists():
            shutil.rmtree(worktree_path)
        porcelain.worktree_prune(repo)
        if branch is not None and _head(branch) in repo.refs:
            porcelain.branch_delete(repo, branch)


@dataclass(frozen=True)
class CommitResult:
    """The new commit (None when nothing changed) and the files it left out."""

    sha: str | None
    left_out: tuple[LeftOut, ...] = ()


def has_changes(repo_path: Path, worktree_path: Path, branch: str) -> bool:
    """Whether the worktree holds work its branch's tip lacks (staged, modified or untracked)."""
    with Repo(str(repo_path)) as repo:
        where = Worktree.locate(repo_path, worktree_path)
        tip = branch_tip(repo, branch)
        scan = scan_tree(
            repo, where, commit_tree(repo, tip), DEFAULT_MAX_FILE_BYTES, MemoryObjectStore()
        )
        return bool(scan.changes)


def commit_all(
    repo_path: Path,
    worktree_path: Path,
    branch: str,
    message: str,
    author: tuple[str, str],
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    watch: ChangeWatch | None = None,
) -> CommitResult:
    """``git add -A && git commit`` on ``branch`` as ``author``, done by the server itself.

    The worktree is read through ``workdir`` (no link followed, nothing above
    ``max_file_bytes`` read: such files are left out and named in the result); objects, the
    branch and the worktree's index are written without running a hook or reading a config.
    With a ``watch`` that can vouch for what changed, only the paths it names are looked at.
    """
    with Repo(str(repo_path)) as repo:
        where = Worktree.locate(repo_path, worktree_path)
        work = _Commit(repo, where, branch, branch_tip(repo, branch), message, author)
        if git_may_work_on(where):
            try:
                changed = watch.take() if watch is not None else None
                done = work.watched(changed, max_file_bytes) if changed is not None else None
                if done is not None:
                    return done
                left_out = stage_all(where, max_file_bytes)
                return CommitResult(None) if left_out is None else work.of_index(left_out)
            except GitStuck:  # dulwich reads the worktree without blocking on anything in it
                (where.admin / "index.lock").unlink(missing_ok=True)  # the killed git's
        tree = commit_tree(repo, work.tip)
        scan = scan_tree(repo, where, tree, max_file_bytes, repo.object_store)
        if not scan.changes:
            return CommitResult(None, tuple(scan.left_out))
        sha = work.store(apply_changes(repo.object_store, tree, scan.changes))
        _record_in_index(where.index_path, scan)
        return CommitResult(sha, tuple(scan.left_out))


def watch_worktree(repo_path: Path, worktree_path: Path) -> ChangeWatch | None:
    """A ``ChangeWatch`` of the worktree, or None where git does not do its plumbing (the
    dulwich path compares every file) or the kernel has no inotify."""
    where = Worktree.locate(repo_path, worktree_path)
    if not git_may_work_on(where):
        return None
    return ChangeWatch.start(where.root, lambda: [item.path for item in worktree_status(where)])


@dataclass(frozen=True)
class _Commit:
    """One commit of a worktree's work on its branch, made one of three ways by ``commit_all``."""

    repo: Repo
    where: Worktree
    branch: str
    tip: ObjectID
    message: str
    author: tuple[str, str]

    def store(self, tree: ObjectID) -> str:
        """Write the commit of ``tree`` and move the branch to it, if it is still at ``tip``."""
        commit = new_commit(tree, [self.tip], self.message, self.author)
        self.repo.object_store.add_object(commit)
        if not self.repo.refs.set_if_equals(_head(self.branch), self.tip, commit.id):
            raise Conflict(f"{self.branch} moved while its work was being committed; try again")
        return commit.id.decode()

    def watched(self, changed: set[bytes], max_file_bytes: int) -> CommitResult | None:
        """Looking at the paths a watch named alone; None when every file must be compared
        instead (``paths_to_stage``).

        The server reads the changed files (as the dulwich path does) and writes the blobs, the
        trees on their paths and the commit, then moves the branch: nothing here grows with the
        number of files. The index is then brought in line by one ``git update-index`` of those
        paths (git reads and writes its whole index: about 80 ms at 200,000 entries). Where git
        attributes apply, git makes the blobs (``update-index`` + ``write-tree``): an ``eol`` or
        filter setting changes what is stored."""
        store = self.repo.object_store
        tree = commit_tree(self.repo, self.tip)
        staging = paths_to_stage(store, self.where, tree, changed, max_file_bytes)
        if staging is None:
            return None
        if not staging.paths:
            return CommitResult(None, staging.left_out)
        if staging.attributes:
            update_index(self.where, staging.paths)
            return self.of_index(staging.left_out)
        read = read_changes(store, self.where, tree, staging, max_file_bytes)
        sha = self.store(apply_changes(store, tree, read.changes)) if read.changes else None
        update_index(self.where, [path for path in staging.paths if path not in read.kept])
        return CommitResult(sha, read.left_out)

    def of_index(self, left_out: tuple[LeftOut, ...]) -> CommitResult:
        """The index, staged by git, committed: ``write-tree``, ``commit-tree`` and a
        compare-and-swap ``update-ref`` (no ``commit``: no hook, no config identity)."""
        where = self.where
        tree = git_in(where, "write-tree").strip().decode()
        index_written_by_git(where)  # by add or update-index, then write-tree (its cache-tree)
        if tree == commit_tree(self.repo, self.tip).decode():
            return CommitResult(None, left_out)
        name, email = self.author
        who = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "TZ": "UTC"}
        who |= {"GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
        parent = self.tip.decode()
        made = git_in(
            where,
            "commit-tree",
            tree,
            "-p",
            parent,
            "-F",
            "-",
            stdin=self.message.encode(),
            env=who,
        )
        sha = made.strip().decode()
        git_in(where, "update-ref", f"refs/heads/{self.branch}", sha, parent)
        return CommitResult(sha, left_out)


def apply_changes(store: BaseObjectStore, tree_id: ObjectID, changes: list[Change]) -> ObjectID:
    """The tree ``tree_id`` with ``changes`` applied; only the trees on changed paths are
    rewritten, so the cost follows what changed, not the size of the tree."""
    edits = {path: new for path, _, new in changes}
    return _edit_tree(store, tree_id, edits) or _store(store, Tree())


def _edit_tree(
    store: BaseObjectStore, tree_id: ObjectID | None, edits: dict[bytes, Entry | None]
) -> ObjectID | None:
    """One level of ``apply_changes``; None when the tree ends up empty."""
    items: dict[bytes, Entry] = dict(tree_items(store, tree_id)) if tree_id is not None else {}
    here: dict[bytes, Entry | None] = {}
    below: dict[bytes, dict[bytes, Entry | None]] = {}
    for path, entry in edits.items():
        name, slash, rest = path.partition(b"/")
        if slash:
            below.setdefault(name, {})[rest] = entry
        else:
            here[name] = entry
    for name, entry in here.items():  # removals first: a file may give way to a folder
        if entry is None:
            items.pop(name, None)
    for name, nested in below.items():
        current = items.get(name)
        subtree = current[1] if current is not None and stat.S_ISDIR(current[0]) else None
        new = _edit_tree(store, subtree, nested)
        if new is not None:
            items[name] = (stat.S_IFDIR, new)
        elif subtree is not None:
            del items[name]
    for name, entry in here.items():
        if entry is not None:
            items[name] = entry
    if not items:
        return None
    tree = Tree()
    for name, (mode, sha) in items.items():
        tree.add(name, mode, sha)
    made = _store(store, tree)
    remember_tree(made, items)
    return made


def _store(store: BaseObjectStore, tree: Tree) -> ObjectID:
    store.add_object(tree)
    return tree.id


def _record_in_index(index_path: Path, scan: Scan) -> None:
    """Bring the worktree's index to the new commit, with the stat of each file as it was read,
    so the next scan passes over them; files left out keep the entry they had."""
    snapshot = IndexSnapshot.at(index_path)
    if not snapshot.readable:
        return  # git's own (split) index, which dulwich cannot rewrite without losing entries
    index = Index(str(index_path), read=False)
    entries = dict(snapshot.entries)
    for path, _, new in scan.changes:
        if new is None:
            entries.pop(path, None)
        elif path in scan.stats:
            entries[path] = index_entry_from_stat(scan.stats[path], new[1], new[0])
    for path in sorted(entries):
        index[path] = entries[path]
    index.write()
