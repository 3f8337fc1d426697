"""Talking to a remote copy of the repository — GitHub over HTTPS with a short-lived token, or
the project's own ``origin`` — and bringing local branches up to date with it.

The token is handed to dulwich as the HTTP password of each call; it is never part of a URL, a
remote in ``.git/config`` or a message (``scrub`` removes it from any error text). The network
calls here are synchronous and take the ``timeout`` of each read; services run them through
``network.with_deadline``, which bounds the whole call.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dulwich import porcelain
from dulwich.client import get_transport_and_path
from dulwich.diff_tree import tree_changes
from dulwich.objects import ObjectID
from dulwich.refs import Ref
from dulwich.repo import Repo

from .cli import git_in, git_path
from .diff import branch_ref, branch_tip, commit_tree
from .history import is_ancestor
from .merge import move_branch
from .network import TOKEN_USER, RemoteError, failure, scrub, transport
from .workdir import Worktree


def _push(
    repo_path: Path,
    location: str,
    branch: str,
    timeout: float,
    force: bool = False,
    token: str | None = None,
) -> str:
    """Push ``branch`` to the same name at ``location`` (a URL or a remote's name); returns the
    pushed commit. Any failure is a RemoteError."""
    errors = io.BytesIO()
    ref = branch_ref(branch)
    try:
        with Repo(str(repo_path)) as repo:
            sha = repo.refs[ref].decode()
            config = repo.get_config_stack()
            url = _remote_url(repo, location)
            result = porcelain.push(
                repo,
                location,
                [ref],
                outstream=io.BytesIO(),
                errstream=errors,
                force=force,
                username=TOKEN_USER if token else None,
                password=token,
                **transport(url, config, timeout),
            )
    except Exception as exc:  # whatever the remote or the transport did, it is a report
        raise failure(exc, errors, token) from None
    refused = {r.decode(): s for r, s in (result.ref_status or {}).items() if s}
    if refused:
        raise RemoteError(scrub(f"push refused: {refused}", token or ""))
    return sha


def _remote_url(repo: Repo, location: str) -> str:
    """The URL a remote's name stands for (a URL stays as it is)."""
    try:
        return repo.get_config().get((b"remote", location.encode()), b"url").decode()
    except KeyError:
        return location


def push(
    repo_path: Path, url: str, token: str, branch: str, timeout: float, force: bool = False
) -> str:
    """Push ``branch`` to the same name at ``url`` with ``token``; returns the pushed commit."""
    return _push(repo_path, url, branch, timeout, force, token)


def push_to_origin(repo_path: Path, branch: str, timeout: float) -> str:
    """Push ``branch`` to ``origin`` with the repository's own credentials (SSH keys, helpers);
    returns the pushed commit."""
    return _push(repo_path, "origin", branch, timeout)


def has_origin(repo_path: Path) -> bool:
    with Repo(str(repo_path)) as repo:
        return repo.get_config().has_section((b"remote", b"origin"))


def fetch_branch(repo_path: Path, url: str, token: str, branch: str, timeout: float) -> str | None:
    """Fetch ``url`` into the repository's objects; the remote tip of ``branch`` (None if the
    remote has no such branch). With an ``origin`` remote its tracking ref is updated too."""
    errors = io.BytesIO()
    try:
        with Repo(str(repo_path)) as repo:
            config = repo.get_config_stack()
            client, path = get_transport_and_path(
                url,
                config=config,
                username=TOKEN_USER,
                password=token,
                quiet=True,
                **transport(url, config, timeout),
            )
            result = client.fetch(path.encode(), repo)
            tip = result.refs.get(branch_ref(branch))
            if tip is not None and repo.get_config().has_section((b"remote", b"origin")):
                repo.refs[Ref(f"refs/remotes/origin/{branch}".encode())] = tip
    except Exception as exc:  # whatever the remote or the transport did, it is a report
        raise failure(exc, errors, token) from None
    return tip.decode() if tip is not None else None


def origin_url(repo_path: Path) -> str | None:
    with Repo(str(repo_path)) as repo:
        config = repo.get_config()
        try:
            return config.get((b"remote", b"origin"), b"url").decode()
        except KeyError:
            return None


FastForward = Literal["up_to_date", "fast_forward", "diverged"]


def fast_forward(repo_path: Path, branch: str, target_sha: str) -> FastForward:
    """Move ``branch`` forward to ``target_sha`` (already in the object store) and update its
    checkouts file by file; a branch with commits the target lacks is left alone."""
    with Repo(str(repo_path)) as repo:
        ref = branch_ref(branch)
        ours = repo.refs[ref]
        theirs = ObjectID(target_sha.encode())
        if is_ancestor(repo, theirs, ours):
            return "up_to_date"
        if not is_ancestor(repo, ours, theirs):
            return "diverged"
        old_tree, new_tree = commit_tree(repo, ours), commit_tree(repo, theirs)
        changes = list(tree_changes(repo.object_store, old_tree, new_tree))
        move_branch(repo, ref, ours, theirs, changes, "update")
        return "fast_forward"


@dataclass(frozen=True)
class RebaseOutcome:
    """``rebased`` / ``up_to_date``, or ``conflict`` (then ``paths`` lists the files) or
    ``dirty`` (uncommitted work): in both the worktree is left exactly as it was."""

    kind: Literal["rebased", "up_to_date", "conflict", "dirty"]
    head: str
    paths: tuple[str, ...] = ()


def rebase_worktree(repo_path: Path, worktree: Path, branch: str, onto: str) -> RebaseOutcome:
    """Replay the worktree's ``branch`` onto ``onto`` (a local branch); the worktree is opened
    through the git dir the server made, never through its own ``.git`` file."""
    from .worktrees import has_changes

    where = Worktree.locate(repo_path, worktree)
    if git_path() is not None and any(where.admin.glob("sharedindex.*")):
        git_in(where, "update-index", "--no-split-index")  # for dulwich's rebase to read it
    with where.open() as repo:
        head = branch_tip(repo, branch)
        upstream = repo.refs[branch_ref(onto)]
        if is_ancestor(repo, upstream, head):
            return RebaseOutcome("up_to_date", head.decode())
    if has_changes(repo_path, worktree, branch):
        return RebaseOutcome("dirty", head.decode())
    with where.open() as repo:
        try:
            porcelain.rebase(repo, onto)
        except porcelain.Error as exc:
            porcelain.rebase(repo, onto, abort=True)
            porcelain.reset(repo, "hard", head)
            text = str(exc)
            paths = text.split(":", 1)[1] if ":" in text else ""
            names = tuple(p.strip() for p in paths.split(",") if p.strip())
            return RebaseOutcome("conflict", head.decode(), names)
        porcelain.reset(repo, "hard", "HEAD")
        new_head = branch_tip(repo, branch).decode()
    return RebaseOutcome("rebased", new_head)


def first_parent(repo_path: Path, sha: str) -> str | None:
    """The first parent of a commit in the object store (None if absent or a root commit)."""
    from dulwich.objects import Commit

    with Repo(str(repo_path)) as repo:
        try:
            commit = repo[ObjectID(sha.encode())]
        except KeyError:
            return None
        if not isinstance(commit, Commit) or not commit.parents:
            return None
        return commit.parents[0].decode()


def branch_sha(repo_path: Path, branch: str) -> str | None:
    with Repo(str(repo_path)) as repo:
        try:
            return repo.refs[branch_ref(branch)].decode()
        except KeyError:
            return None


def reachable_from(repo_path: Path, tip: str, commits: list[tuple[int, str]]) -> list[int]:
    """The keys of ``commits`` (key, sha) whose commit is ``tip`` or one of its ancestors."""
    head = ObjectID(tip.encode())
    with Repo(str(repo_path)) as repo:
        return [
            key
            for key, sha in commits
            if (commit := ObjectID(sha.encode())) in repo.object_store
            and is_ancestor(repo, commit, head)
        ]
