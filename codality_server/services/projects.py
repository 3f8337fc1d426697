"""Projects: register a repository (adopt, clone or create it) and read its files (product.md §3).

Git work runs in a thread. Creations are serialised by one lock so that the uniqueness checks,
the work on disk and the insert cannot interleave with another creation.
"""

from __future__ import annotations

import asyncio
import builtins
import os
import re
import shutil
import sqlite3
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from codality_server.db import projects as db_projects
from codality_server.domain.errors import Conflict, InvalidInput, NotFound
from codality_server.domain.projects import Project, slugify
from codality_server.domain.users import User
from codality_server.git import repository
from codality_server.git.network import RemoteError, with_deadline
from codality_server.git.repository import BlobContent, Identity

from .base import Core, Service, now_iso

if TYPE_CHECKING:
    from .settings import SettingsService

CreateMode = Literal["existing", "clone", "new"]
CLONE_DEADLINE_FACTOR = 20
"""A clone may take this many times ``git_timeout_s`` in all (each read waits that long)."""
MAX_NAME = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What a clone URL may look like: a URL with a known scheme, scp-like user@host:path, or a path.
# A host may not start with "-", which ssh would read as an option.
_URL = re.compile(r"^(?:(?:https?|ssh|git)://[^\s/-]\S*|file:///\S+|[\w.]+@[\w.-]+:\S+|/.+)$")


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or _CONTROL.search(name):
        raise InvalidInput(
            f"name: must be 1–{MAX_NAME} printable characters, got {name!r}", field="name"
        )
    return name


def _absolute(raw: str) -> Path:
    """A client's path made canonical (``~`` expanded, symlinks resolved) so one folder can't be
    registered twice under two spellings; relative paths are refused."""
    if "\x00" in raw:
        raise InvalidInput("path: may not contain a NUL byte", field="path")
    expanded = os.path.expanduser(raw.strip())
    if not os.path.isabs(expanded):
        raise InvalidInput(f"path: {raw!r} is not an absolute path", field="path")
    return Path(expanded).resolve()


def _name_from_url(url: str) -> str:
    tail = re.split(r"[/:]", url.rstrip("/"))[-1]
    return tail.removesuffix(".git") or "project"


def _check_folder(path: Path) -> None:
    if not path.exists():
        raise InvalidInput(f"path: {path} does not exist", field="path")
    if not path.is_dir():
        raise InvalidInput(f"path: {path} is not a folder", field="path")
    if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        raise InvalidInput(
            f"path: {path} must be readable and writable by the server", field="path"
        )


class ProjectService(Service):
    """Project records and read-only views of their repositories at any ref."""

    def __init__(self, core: Core, *, settings: SettingsService) -> None:
        super().__init__(core)
        self.settings = settings
        self._creating = asyncio.Lock()

    # --- records ---------------------------------------------------------------------------

    async def get(self, slug: str) -> Project:
        project = await self.db.cached(
            ("project", slug), lambda: db_projects.project_by_slug(self.db.reader, slug)
        )
        if project is None:
            raise NotFound(f"no project with slug {slug!r}")
        return project

    async def get_by_id(self, project_id: int) -> Project:
        project = await db_projects.project_by_id(self.db.reader, project_id)
        if project is None:
            raise NotFound(f"no project with id {project_id}")
        return project

    async def list(self) -> builtins.list[Project]:
        return await db_projects.list_projects(self.db.reader)

    async def create(
        self,
        user: User,
        mode: CreateMode,
        *,
        name: str | None = None,
        path: str | None = None,
        url: str | None = None,
        init: bool = False,
    ) -> Project:
        """Register a repository: adopt the one at ``path``, clone ``url``, or make a new one.

        Commits the server makes (``new``, or ``existing`` with ``init``) carry ``user``'s git
        identity.
        """
        if url is not None and mode != "clone":
            raise InvalidInput("url: only mode 'clone' takes a url", field="url")
        if init and mode != "existing":
            raise InvalidInput("init: only mode 'existing' takes init", field="init")
        async with self._creating:
            if mode == "existing":
                return await self._adopt(path, name, init, user.git_identity)
            if mode == "clone":
                return await self._clone(url, path, name)
            return await self._new(name, path, user.git_identity)

    async def _adopt(
        self, raw_path: str | None, name: str | None, init: bool, identity: Identity
    ) -> Project:
        if raw_path is None:
            raise InvalidInput("path: mode 'existing' needs the repository's path", field="path")
        folder = _absolute(raw_path)
        _check_folder(folder)
        label = _clean_name(name if name is not None else folder.name or "project")
        await self._ensure_free(slugify(label), folder)
        branch = await asyncio.to_thread(repository.adopt_repository, folder, init, identity)
        return await self._insert(slugify(label), label, folder, branch)

    async def _clone(self, url: str | None, raw_path: str | None, name: str | None) -> Project:
        if url is None or not url.strip():
            raise InvalidInput("url: mode 'clone' needs the url to clone", field="url")
        url = url.strip()
        if not _URL.match(url):
            raise InvalidInput(
                f"url: {repository.redact_url(url)!r} is not a git URL (https://, ssh://, git://, "
                "file://, user@host:path or an absolute path)",
                field="url",
            )
        label = _clean_name(name if name is not None else _name_from_url(url))
        folder = self._target(raw_path, slugify(label))
        await self._ensure_free(slugify(label), folder)
        timeout = float((await self.settings.current()).git_timeout_s)
        try:
            branch = await with_deadline(
                partial(repository.clone_repository, url, folder, timeout),
                timeout * CLONE_DEADLINE_FACTOR,
                "clone",
                undo=lambda _: shutil.rmtree(folder, ignore_errors=True),
            )
        except RemoteError as exc:
            raise InvalidInput(
                f"url: could not clone {repository.redact_url(url)}: {exc}", field="url"
            ) from None
        return await self._insert(slugify(label), label, folder, branch)

    async def _new(self, name: str | None, raw_path: str | None, identity: Identity) -> Project:
        if name is None:
            raise InvalidInput("name: mode 'new' needs a project name", field="name")
        label = _clean_name(name)
        folder = self._target(raw_path, slugify(label))
        await self._ensure_free(slugify(label), folder)
        branch = await asyncio.to_thread(repository.create_repository, folder, label, identity)
        return await self._insert(slugify(label), label, folder, branch)

    @staticmethod
    def _target(raw_path: str | None, slug: str) -> Path:
        """Where a clone or a new repository goes: the given path, else ``~/repos/{slug}``."""
        return (
            _absolute(raw_path) if raw_path is not None else Path.home().resolve() / "repos" / slug
        )

    async def _ensure_free(self, slug: str, folder: Path) -> None:
        reader = self.db.reader
        taken = await db_projects.project_by_slug(reader, slug)
        if taken is not None:
            raise Conflict(
                f"a project with slug {slug!r} already exists ({taken.path}); choose another name",
                {"field": "name"},
            )
        same_path = await db_projects.project_by_path(reader, str(folder))
        if same_path is not None:
            raise Conflict(f"{folder} is already the project {same_path.slug!r}", {"field": "path"})

    async def _insert(self, slug: str, name: str, folder: Path, branch: str) -> Project:
        try:
            async with self.db.transaction() as conn:
                return await db_projects.insert_project(
                    conn, slug, name, str(folder), branch, now_iso()
                )
        except sqlite3.IntegrityError:
            raise Conflict(f"a project with slug {slug!r} or path {folder} exists") from None

    async def update(
        self,
        slug: str,
        *,
        name: str | None = None,
        default_branch: str | None = None,
        protected_main: bool | None = None,
    ) -> Project:
        """Rename, switch the default branch (it must exist), or toggle ``protected_main``.

        The slug stays as it was so that URLs and ``CODALITY_PROJECT`` keep working.
        """
        project = await self.get(slug)
        fields: dict[str, object] = {}
        if name is not None:
            fields["name"] = _clean_name(name)
        if default_branch is not None:
            exists = await asyncio.to_thread(
                repository.branch_exists, Path(project.path), default_branch
            )
            if not exists:
                raise InvalidInput(
                    f"default_branch: there is no branch {default_branch!r} in {project.path}",
                    field="default_branch",
                )
            fields["default_branch"] = default_branch
        if protected_main is not None:
            if protected_main and not (project.github_owner and project.github_repo):
                raise Conflict(
                    "protected_main needs the project linked to a GitHub repository first",
                    {"field": "protected_main"},
                )
            fields["protected_main"] = protected_main
        if not fields:
            return project
        async with self.db.transaction() as conn:
            updated = await db_projects.update_project(conn, project.id, now_iso(), **fields)
        if updated is None:
            raise NotFound(f"no project with slug {slug!r}")
        return updated

    # --- repository views -------------------------------------------------------------------

    async def files(self, slug: str, ref: str | None, glob: str | None) -> dict[str, Any]:
        project = await self.get(slug)
        at = ref or project.default_branch
        listing = await asyncio.to_thread(repository.list_files, Path(project.path), at, glob)
        return {"ref": at, "commit": listing.commit, "files": listing.files}

    async def browse(self, slug: str, path: str, ref: str | None) -> dict[str, Any]:
        project = await self.get(slug)
        at = ref or project.default_branch
        level = await asyncio.to_thread(repository.tree_level, Path(project.path), at, path)
        return {
            "ref": at,
            "commit": level.commit,
            "path": level.path,
            "entries": [vars(item) for item in level.entries],
        }

    async def blob(self, slug: str, path: str, ref: str | None) -> BlobContent:
        project = await self.get(slug)
        at = ref or project.default_branch
        return await asyncio.to_thread(repository.read_blob, Path(project.path), at, path)
