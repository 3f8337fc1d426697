"""Repositories: create, clone or adopt one, and read its files at a ref — through dulwich.

Reads never touch the working tree. Files, tree levels and blobs come from the object store at a
commit, so a client sees exactly what is committed, and a symlink stored in the tree is followed
inside the tree only; one that points outside it (``evil -> /etc/passwd``) is refused, never read.
Every function is synchronous; services run them with ``asyncio.to_thread``.
"""

from __future__ import annotations

import io
import re
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from dulwich import porcelain
from dulwich.errors import NotGitRepository, NotTreeError
from dulwich.object_store import iter_tree_contents, tree_lookup_path
from dulwich.objects import S_ISGITLINK, Commit, ObjectID, SubmoduleEncountered, Tree
from dulwich.objectspec import parse_commit
from dulwich.refs import Ref, check_ref_format
from dulwich.repo import Repo

from codality_server.domain.errors import Conflict, InvalidInput, NotFound

from .network import failure, transport
from .paths import path_segments

Identity = tuple[str, str]
"""(name, e-mail) of the person a commit is made for."""

INITIAL_BRANCH = "main"
MAX_SYMLINK_HOPS = 40
BINARY_SNIFF_BYTES = 8000
# Characters and sequences git itself refuses in ref names, plus whitespace and a leading dash.
_BAD_REF = re.compile(r"[\x00-\x20\x7f\\~^:?*\[]|\.\.|@\{|^[-/.]|/$|//")
_ANCESTRY = re.compile(r"(?:[~^]\d{0,6})+$")
_STEP = re.compile(r"([~^])(\d*)")


@dataclass(frozen=True)
class TreeItem:
    """One entry of a tree level; ``size`` is the blob's byte length (``None`` for dirs)."""

    name: str
    path: str
    type: str
    size: int | None


@dataclass(frozen=True)
class TreeLevel:
    commit: str
    path: str
    entries: list[TreeItem]


@dataclass(frozen=True)
class FileList:
    commit: str
    files: list[str]


@dataclass(frozen=True)
class BlobContent:
    commit: str
    path: str
    data: bytes

    @property
    def is_binary(self) -> bool:
        """Git's own heuristic: a NUL byte near the start means binary."""
        return b"\x00" in self.data[:BINARY_SNIFF_BYTES]


# --- creating and adopting repositories ----------------------------------------------------


def _signature(identity: Identity) -> bytes:
    name, email = identity
    return f"{name} <{email}>".encode()


def _first_commit(repo: Repo, identity: Identity) -> None:
    """``git add -A && git commit --allow-empty`` as ``identity`` (never dulwich's ``user@host``).

    Unlike ``worktrees.commit_all`` it commits even an empty folder: the point is that the
    default branch comes to exist.
    """
    porcelain.add(repo)
    who = _signature(identity)
    porcelain.commit(repo, message=b"Initial commit", author=who, committer=who)


def _head_branch(repo: Repo, where: str, field: str) -> str:
    """The branch HEAD points at: the repository's default branch, whatever its name."""
    target = repo.refs.get_symrefs().get(Ref(b"HEAD"))
    if target is None or not target.startswith(b"refs/heads/"):
        raise InvalidInput(
            f"{field}: HEAD of {where} is detached; check out the default branch first",
            field=field,
        )
    return target.removeprefix(b"refs/heads/").decode("utf-8", "replace")


def _has_branch(repo: Repo, branch: str) -> bool:
    return Ref(b"refs/heads/" + branch.encode()) in repo.refs


def _not_a_repository(path: Path) -> InvalidInput:
    try:
        with Repo.discover(str(path)) as enclosing:
            root = enclosing.path
    except NotGitRepository:
        return InvalidInput(
            f"path: {path} is not a git repository; pass init: true to run git init there",
            field="path",
        )
    return InvalidInput(
        f"path: {path} is inside the git repository {root}; give the repository's root",
        field="path",
    )


def adopt_repository(path: Path, init: bool, identity: Identity) -> str:
    """Check that ``path`` is a repository root whose HEAD branch has a commit; return the branch.

    With ``init``, a plain folder gets ``git init`` and a repository without commits gets a first
    commit of the files already there, so a default branch exists for ticket branches to start
    from (an unborn branch cannot be branched from).
    """
    try:
        repo = Repo(str(path))
    except NotGitRepository:
        if not init:
            raise _not_a_repository(path) from None
        repo = Repo.init(str(path), default_branch=INITIAL_BRANCH.encode())
    with repo:
        if repo.bare:
            raise InvalidInput(
                f"path: {path} is a bare repository; agents need one with a working tree",
                field="path",
            )
        branch = _head_branch(repo, str(path), "path")
        if not _has_branch(repo, branch):
            if not init:
                raise InvalidInput(
                    f"path: {path} has no commits on {branch} yet; pass init: true to commit "
                    "the files it holds",
                    field="path",
                )
            _first_commit(repo, identity)
        return branch


@contextmanager
def _fresh_directory(path: Path) -> Iterator[None]:
    """An empty ``path`` for the caller to fill; when filling fails, the disk is left as it was."""
    existed = path.exists()
    if existed and (not path.is_dir() or any(path.iterdir())):
        raise Conflict(f"{path} already exists and is not an empty folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"path: cannot create {path}: {exc.strerror}", field="path") from None
    try:
        yield
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        if existed:
            path.mkdir()
        raise


def create_repository(path: Path, name: str, identity: Identity) -> str:
    """A new repository at ``path`` with a README as its first commit; returns the branch."""
    branch = INITIAL_BRANCH.encode()
    with _fresh_directory(path), Repo.init(str(path), default_branch=branch) as repo:
        (path / "README.md").write_text(f"# {name}\n", encoding="utf-8")
        _first_commit(repo, identity)
    return INITIAL_BRANCH


def redact_url(url: str) -> str:
    """The URL without a password, for messages."""
    return re.sub(r"//([^/@:]+):[^/@]*@", r"//\1:***@", url)


def clone_repository(url: str, path: Path, timeout: float) -> str:
    """Clone ``url`` into ``path`` (absent or empty); returns the remote's default branch.
    Each read from the remote waits ``timeout`` seconds at most."""
    with _fresh_directory(path):
        try:
            repo = porcelain.clone(
                url, str(path), errstream=io.BytesIO(), **transport(url, None, timeout)
            )
        except Exception as exc:  # whatever the remote or the transport did, it is a report
            said = failure(exc, io.BytesIO())
            raise InvalidInput(
                f"url: could not clone {redact_url(url)}: {said}", field="url"
            ) from None
        with repo:
            branch = _head_branch(repo, redact_url(url), "url")
            if not _has_branch(repo, branch):
                raise InvalidInput(
                    f"url: {redact_url(url)} has no commits to work from", field="url"
                )
    return branch


# --- reading at a ref ------------------------------------------------------------------------


@contextmanager
def open_repository(path: Path) -> Iterator[Repo]:
    """The project's repository, closed afterwards; a vanished one is a conflict, not a crash."""
    try:
        repo = Repo(str(path))
    except NotGitRepository:
        raise Conflict(
            f"the project's repository at {path} is missing or no longer a git repository"
        ) from None
    with repo:
        yield repo


def _commit_at(repo: Repo, ref: str) -> Commit:
    """A branch, tag, full or short SHA or ``HEAD``, optionally walked back with ``~N``/``^N``.

    The name part is checked against git's ref-name rules before any lookup, so nothing like
    ``refs/heads/../../config`` ever reaches the refs container.
    """
    walk = _ANCESTRY.search(ref) if len(ref) <= 255 else None
    name = ref[: walk.start()] if walk else ref
    if not name or len(ref) > 255 or (name != "HEAD" and _BAD_REF.search(name)):
        raise InvalidInput(f"ref: {ref!r} is not a valid ref name", field="ref")
    try:
        commit = parse_commit(repo, name.encode())
    except (KeyError, ValueError):
        raise NotFound(f"ref {ref!r} does not name a commit in this repository") from None
    for step, count in _STEP.findall(walk.group(0) if walk else ""):
        commit = _walk_back(repo, commit, step, int(count) if count else 1, ref)
    return commit


def _walk_back(repo: Repo, commit: Commit, step: str, count: int, ref: str) -> Commit:
    """``~N``: N first parents back; ``^N``: the N-th parent (``^0`` is the commit itself)."""
    hops = [0] * count if step == "~" else ([count - 1] if count else [])
    for index in hops:
        if index >= len(commit.parents):
            raise NotFound(f"ref {ref!r} goes back further than the history")
        parent = repo.object_store[commit.parents[index]]
        assert isinstance(parent, Commit)
        commit = parent
    return commit


def _entry(repo: Repo, tree_id: ObjectID, segments: list[str], ref: str) -> tuple[int, ObjectID]:
    if not segments:
        return stat.S_IFDIR, tree_id
    joined = "/".join(segments)
    try:
        return tree_lookup_path(repo.object_store.__getitem__, tree_id, joined.encode())
    except (KeyError, NotTreeError, SubmoduleEncountered):
        raise NotFound(f"{joined!r} does not exist at {ref}") from None


def _resolve(
    repo: Repo, tree_id: ObjectID, segments: list[str], ref: str
) -> tuple[str, int, ObjectID]:
    """Walk ``segments`` from the root tree, following symlinks while they stay in the tree.

    Returns the canonical path, the mode and the object id of what the path names.
    """
    done: list[str] = []
    pending = list(segments)
    hops = 0
    while pending:
        name = pending.pop(0)
        if name in ("", "."):
            continue
        if name == "..":
            if not done:
                raise InvalidInput(
                    "path: a symbolic link on this path points outside the repository",
                    field="path",
                )
            done.pop()
            continue
        mode, sha = _entry(repo, tree_id, [*done, name], ref)
        if not stat.S_ISLNK(mode):
            done.append(name)
            continue
        hops += 1
        if hops > MAX_SYMLINK_HOPS:
            raise InvalidInput("path: too many levels of symbolic links", field="path")
        target = repo.object_store[sha].as_raw_string().decode("utf-8", "replace")
        if target.startswith("/"):
            raise InvalidInput(
                "path: a symbolic link on this path points outside the repository", field="path"
            )
        pending = [*target.split("/"), *pending]
    mode, sha = _entry(repo, tree_id, done, ref)
    return "/".join(done), mode, sha


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    if S_ISGITLINK(mode):
        return "submodule"
    return "file"


def _matches(name: str, glob: str) -> bool:
    if fnmatchcase(name, glob):
        return True
    return "/" not in glob and fnmatchcase(name.rsplit("/", 1)[-1], glob)


def list_files(path: Path, ref: str, glob: str | None) -> FileList:
    """Tracked paths at ``ref``, sorted. A ``glob`` without ``/`` also matches base names, so
    ``*.py`` and ``README*`` find files in any folder, as in ``.gitignore``."""
    with open_repository(path) as repo:
        commit = _commit_at(repo, ref)
        files = sorted(
            entry.path.decode("utf-8", "replace")
            for entry in iter_tree_contents(repo.object_store, commit.tree)
            if entry.path is not None
        )
    if glob:
        files = [name for name in files if _matches(name, glob)]
    return FileList(commit.id.decode(), files)


def tree_level(path: Path, ref: str, relative: str) -> TreeLevel:
    """One level of the tree at ``relative``: folders first, then by name."""
    segments = path_segments(relative)
    with open_repository(path) as repo:
        commit = _commit_at(repo, ref)
        where, mode, sha = _resolve(repo, commit.tree, segments, ref)
        if not stat.S_ISDIR(mode):
            raise InvalidInput(
                f"path: {where!r} is a {_kind(mode)}, not a folder; read files from blob/",
                field="path",
            )
        tree = repo.object_store[sha]
        assert isinstance(tree, Tree)
        items = []
        for entry in tree.iteritems():
            name = entry.path.decode("utf-8", "replace")
            kind = _kind(entry.mode)
            size = None
            if kind in ("file", "symlink"):
                size = len(repo.object_store[entry.sha].as_raw_string())
            items.append(TreeItem(name, f"{where}/{name}" if where else name, kind, size))
    items.sort(key=lambda item: (item.type != "dir", item.name))
    return TreeLevel(commit.id.decode(), where, items)


def read_blob(path: Path, ref: str, relative: str) -> BlobContent:
    """The bytes of the file at ``relative`` (a symlink inside the tree is followed)."""
    segments = path_segments(relative)
    if not segments:
        raise InvalidInput("path: name a file to read", field="path")
    with open_repository(path) as repo:
        commit = _commit_at(repo, ref)
        where, mode, sha = _resolve(repo, commit.tree, segments, ref)
        kind = _kind(mode)
        if kind != "file":
            raise InvalidInput(
                f"path: {where!r} is a {kind}, not a file; browse folders with browse?path=",
                field="path",
            )
        data = repo.object_store[sha].as_raw_string()
    return BlobContent(commit.id.decode(), where, data)


def branch_exists(path: Path, branch: str) -> bool:
    """Whether ``branch`` is a local branch; malformed names simply do not exist."""
    name = Ref(b"refs/heads/" + branch.encode())
    if not check_ref_format(name):
        return False
    with open_repository(path) as repo:
        return name in repo.refs
