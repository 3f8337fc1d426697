"""Ticket worktrees: one linked git worktree per ticket, on its own branch, made with dulwich.

Everything here is synchronous (dulwich is); services call it through ``asyncio.to_thread``. The
result is an ordinary linked worktree that the ``git`` CLI sees (``git worktree list``).
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

from dulwich import porcelain
from dulwich.refs import Ref
from dulwich.repo import Repo

from codality_server.domain.errors import Conflict

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


def create_worktree(repo_path: Path, worktree_path: Path, branch: str, base_branch: str) -> None:
    """Check ``branch`` out at ``worktree_path``, creating the branch from ``base_branch``.

    A worktree already registered at that path is reused as it is (later runs of a ticket keep
    their work); an existing branch is checked out rather than reset.
    """
    with Repo(str(repo_path)) as repo:
        if _registered(repo, worktree_path) and worktree_path.exists():
            return
        porcelain.worktree_prune(repo)
        if worktree_path.exists() and any(worktree_path.iterdir()):
            raise Conflict(f"{worktree_path} exists and is not a worktree of {repo_path}")
        ref = _head(branch)
        if ref not in repo.refs:
            base = _head(base_branch)
            if base not in repo.refs:
                raise Conflict(f"the default branch {base_branch!r} does not exist")
            repo.refs[ref] = repo.refs[base]
        worktree_path.parent.mkdir(parents=True, exist_ok=True)
        if worktree_path.exists():
            worktree_path.rmdir()
        try:
            porcelain.worktree_add(repo, path=str(worktree_path), branch=branch)
        except ValueError as exc:
            raise Conflict(f"cannot check out {branch}: {exc}") from None


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


def has_changes(path: Path) -> bool:
    """Whether the worktree has staged, unstaged or untracked changes."""
    with Repo(str(path)) as repo:
        status = porcelain.status(repo)
        staged = any(status.staged[key] for key in ("add", "delete", "modify"))
        return staged or bool(status.unstaged) or bool(status.untracked)


def commit_all(path: Path, message: str, author: tuple[str, str]) -> str | None:
    """``git add -A && git commit`` as ``author``; the new sha, or None when nothing changed."""
    if not has_changes(path):
        return None
    who = f"{author[0]} <{author[1]}>".encode()
    with Repo(str(path)) as repo:
        porcelain.add(repo)
        status = porcelain.status(repo, untracked_files="no")
        if not any(status.staged[key] for key in ("add", "delete", "modify")):
            return None
        now = int(time.time())
        sha = porcelain.commit(
            repo,
            message=message.encode(),
            author=who,
            committer=who,
            author_timezone=0,
            commit_timezone=0,
            commit_timestamp=now,
            author_timestamp=now,
        )
        return sha.decode() if isinstance(sha, bytes) else str(sha)
