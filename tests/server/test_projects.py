"""Creating, listing and updating projects over HTTP, with real repositories made by git."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, assert_error, create_project, git
from tests.server.repos import make_repo

# --- creating ------------------------------------------------------------------------------


async def test_existing_repository_becomes_a_project(
    api: httpx.AsyncClient, git_repo: Path
) -> None:
    created = await create_project(api, git_repo)
    assert created["slug"] == "repo" and created["name"] == "repo"
    assert created["path"] == str(git_repo.resolve())
    assert created["default_branch"] == "main"
    assert created["protected_main"] is False and created["github"] is None
    shown = await api.get("/api/projects/repo")
    assert shown.json() == created
    listed = await api.get("/api/projects")
    assert listed.json() == [created]


async def test_default_branch_is_read_from_the_repository(
    api: httpx.AsyncClient, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "trunky", branch="trunk")
    created = await create_project(api, repo, name="Trunk Based")
    assert created["slug"] == "trunk-based"
    assert created["default_branch"] == "trunk"
    files = await api.get("/api/projects/trunk-based/files")
    assert files.json()["ref"] == "trunk"
    assert files.json()["files"] == ["README.md"]


async def test_init_turns_a_plain_folder_into_a_repository_with_a_first_commit(
    api: httpx.AsyncClient, tmp_path: Path
) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me\n")
    (folder / ".gitignore").write_text("*.log\n")
    (folder / "debug.log").write_text("noise\n")
    refused = await api.post("/api/projects", json={"mode": "existing", "path": str(folder)})
    error = assert_error(refused, 400, "invalid_input")
    assert "not a git repository" in error["message"] and error["field"] == "path"
    created = await create_project(api, folder, init=True)
    assert created["default_branch"] == "main"
    assert git(folder, "ls-files").split() == [".gitignore", "notes.txt"]
    assert git(folder, "log", "--format=%an <%ae>|%cn <%ce>").strip() == (
        "Admin <admin@example.com>|Admin <admin@example.com>"
    )
    assert git(folder, "status", "--porcelain") == ""


async def test_init_on_an_empty_folder_makes_an_empty_first_commit(
    api: httpx.AsyncClient, tmp_path: Path
) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    created = await create_project(api, folder, init=True)
    assert git(folder, "rev-parse", "--abbrev-ref", "HEAD").strip() == created["default_branch"]
    assert git(folder, "ls-files") == ""
    git(folder, "fsck")


async def test_a_repository_without_commits_needs_init(
    api: httpx.AsyncClient, tmp_path: Path
) -> None:
    folder = tmp_path / "unborn"
    folder.mkdir()
    git(folder, "init", "-q", "-b", "develop")
    (folder / "a.txt").write_text("a\n")
    error = assert_error(
        await api.post("/api/projects", json={"mode": "existing", "path": str(folder)}), 400
    )
    assert "no commits on develop" in error["message"]
    created = await create_project(api, folder, init=True)
    assert created["default_branch"] == "develop"
    assert git(folder, "ls-files").split() == ["a.txt"]


async def test_new_repository_with_readme_at_the_default_path(
    api: httpx.AsyncClient, isolated_home: Path
) -> None:
    created = await create_project(api, mode="new", name="My Shiny App!")
    folder = isolated_home.resolve() / "repos" / "my-shiny-app"
    assert created["slug"] == "my-shiny-app" and created["name"] == "My Shiny App!"
    assert created["path"] == str(folder) and created["default_branch"] == "main"
    assert (folder / "README.md").read_text() == "# My Shiny App!\n"
    assert git(folder, "log", "--format=%s|%an|%ae").strip() == (
        "Initial commit|Admin|admin@example.com"
    )
    assert git(folder, "status", "--porcelain") == ""
    git(folder, "fsck")


async def test_new_repository_at_a_chosen_path(api: httpx.AsyncClient, tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "proj"
    created = await create_project(api, mode="new", name="Proj", path=str(target))
    assert created["path"] == str(target.resolve())
    assert git(target, "ls-files").split() == ["README.md"]
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("x")
    error = assert_error(
        await api.post("/api/projects", json={"mode": "new", "name": "Other", "path": str(taken)}),
        409,
    )
    assert "not an empty folder" in error["message"]
    assert sorted(p.name for p in taken.iterdir()) == ["x"]


async def test_clone_from_a_local_bare_repository(
    api: httpx.AsyncClient, tmp_path: Path, isolated_home: Path
) -> None:
    source = make_repo(tmp_path / "src-repo", branch="trunk")
    bare = tmp_path / "upstream.git"
    git(tmp_path, "clone", "-q", "--bare", str(source), str(bare))
    created = await create_project(api, mode="clone", url=str(bare))
    folder = isolated_home.resolve() / "repos" / "upstream"
    assert created["slug"] == "upstream" and created["path"] == str(folder)
    assert created["default_branch"] == "trunk"
    assert git(folder, "rev-parse", "HEAD") == git(source, "rev-parse", "HEAD")
    assert (folder / "README.md").read_text() == "# Hello\n"
    by_url = await create_project(
        api, mode="clone", url=f"file://{bare}", path=str(tmp_path / "second"), name="Second"
    )
    assert by_url["default_branch"] == "trunk"
    assert git(tmp_path / "second", "status", "--porcelain") == ""


async def test_clone_failures_leave_nothing_behind(api: httpx.AsyncClient, tmp_path: Path) -> None:
    target = tmp_path / "never"
    error = assert_error(
        await api.post(
            "/api/projects",
            json={"mode": "clone", "url": str(tmp_path / "missing.git"), "path": str(target)},
        ),
        400,
    )
    assert error["field"] == "url" and "could not clone" in error["message"]
    assert not target.exists()
    empty = tmp_path / "empty.git"
    git(tmp_path, "init", "-q", "--bare", str(empty))
    error = assert_error(
        await api.post(
            "/api/projects", json={"mode": "clone", "url": str(empty), "path": str(target)}
        ),
        400,
    )
    assert "no commits" in error["message"]
    assert not target.exists()
    for url in ["ssh://-oProxyCommand=touch%20pwned/x", "ftp://host/x.git", "relative/path"]:
        error = assert_error(
            await api.post("/api/projects", json={"mode": "clone", "url": url}), 400
        )
        assert error["field"] == "url"
    assert (await api.get("/api/projects")).json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mode": "existing", "path": "relative/repo"}, "path"),
        ({"mode": "existing"}, "path"),
        ({"mode": "existing", "path": "/definitely/not/here"}, "path"),
        ({"mode": "clone"}, "url"),
        ({"mode": "new"}, "name"),
        ({"mode": "new", "name": "   "}, "name"),
        ({"mode": "new", "name": "x" * 101}, "name"),
        ({"mode": "new", "name": "ok", "url": "/x"}, "url"),
        ({"mode": "new", "name": "ok", "init": True}, "init"),
        ({"mode": "fork", "path": "/tmp"}, "mode"),
        ({"path": "/tmp"}, "mode"),
        ({"mode": "existing", "path": 42}, "path"),
        ({"mode": "existing", "path": "/tmp", "init": "yes"}, "init"),
        ({"mode": "new", "name": ["a"]}, "name"),
        ({"mode": "new", "name": "a", "colour": "red"}, "colour"),
    ],
)
async def test_bad_create_requests_name_the_field(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    error = assert_error(await api.post("/api/projects", json=body), 400, "invalid_input")
    assert error["field"] == field, error


async def test_paths_that_are_not_repository_roots(
    api: httpx.AsyncClient, git_repo: Path, tmp_path: Path
) -> None:
    inside = assert_error(
        await api.post("/api/projects", json={"mode": "existing", "path": str(git_repo / "src")}),
        400,
    )
    assert "inside the git repository" in inside["message"]
    a_file = assert_error(
        await api.post(
            "/api/projects", json={"mode": "existing", "path": str(git_repo / "README.md")}
        ),
        400,
    )
    assert "not a folder" in a_file["message"]
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(git_repo), str(bare))
    error = assert_error(
        await api.post("/api/projects", json={"mode": "existing", "path": str(bare)}), 400
    )
    assert "bare repository" in error["message"]
    git(git_repo, "checkout", "-q", "--detach")
    error = assert_error(
        await api.post("/api/projects", json={"mode": "existing", "path": str(git_repo)}), 400
    )
    assert "detached" in error["message"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
async def test_unwritable_folder_is_refused(api: httpx.AsyncClient, git_repo: Path) -> None:
    git_repo.chmod(0o555)
    try:
        error = assert_error(
            await api.post("/api/projects", json={"mode": "existing", "path": str(git_repo)}),
            400,
        )
    finally:
        git_repo.chmod(0o755)
    assert "readable and writable" in error["message"]


async def test_duplicate_slug_or_path_is_a_conflict(
    api: httpx.AsyncClient, git_repo: Path, tmp_path: Path
) -> None:
    await create_project(api, git_repo, name="Shop")
    same_path = assert_error(
        await api.post(
            "/api/projects",
            json={"mode": "existing", "path": f"{git_repo}/../repo/", "name": "Other"},
        ),
        409,
        "conflict",
    )
    assert "already the project 'shop'" in same_path["message"]
    other = make_repo(tmp_path / "other")
    same_slug = assert_error(
        await api.post(
            "/api/projects", json={"mode": "existing", "path": str(other), "name": "SHOP"}
        ),
        409,
    )
    assert "slug 'shop' already exists" in same_slug["message"]
    assert len((await api.get("/api/projects")).json()) == 1


async def test_concurrent_creations_of_one_repository_make_one_project(
    api: httpx.AsyncClient, git_repo: Path
) -> None:
    body = {"mode": "existing", "path": str(git_repo)}
    answers = await asyncio.gather(*(api.post("/api/projects", json=body) for _ in range(8)))
    assert sorted(a.status_code for a in answers) == [201] + [409] * 7


async def test_anonymous_may_not_list_or_create(anon: httpx.AsyncClient, git_repo: Path) -> None:
    assert_error(
        await anon.post("/api/projects", json={"mode": "existing", "path": str(git_repo)}), 401
    )
    assert_error(await anon.get("/api/projects"), 401)


# --- updating --------------------------------------------------------------------------------


async def test_update_name_branch_and_protection(
    api: httpx.AsyncClient, project: dict[str, Any], git_repo: Path, server: RunningServer
) -> None:
    git(git_repo, "branch", "release")
    changed = await api.put(
        "/api/projects/repo", json={"name": "Renamed", "default_branch": "release"}
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["name"] == "Renamed" and body["slug"] == "repo"
    assert body["default_branch"] == "release" and body["updated_at"] >= project["updated_at"]
    missing = assert_error(
        await api.put("/api/projects/repo", json={"default_branch": "nope"}), 400
    )
    assert missing["field"] == "default_branch" and "no branch 'nope'" in missing["message"]
    assert_error(await api.put("/api/projects/repo", json={"default_branch": "../main"}), 400)
    unlinked = assert_error(await api.put("/api/projects/repo", json={"protected_main": True}), 409)
    assert "GitHub" in unlinked["message"]
    assert_error(await api.put("/api/projects/repo", json={"protected_main": "yes"}), 400)
    assert_error(await api.put("/api/projects/repo", json={"name": ""}), 400)
    assert_error(await api.put("/api/projects/repo", json={"slug": "x"}), 400)
    assert_error(await api.put("/api/projects/nope", json={"name": "x"}), 404, "not_found")
    unchanged = await api.put("/api/projects/repo", json={})
    assert unchanged.json()["name"] == "Renamed"
    files = await api.get("/api/projects/repo/files")
    assert files.json()["ref"] == "release"


async def test_protected_main_once_linked_to_github(
    api: httpx.AsyncClient, project: dict[str, Any], server: RunningServer
) -> None:
    from codality_server.db import projects as db_projects
    from codality_server.http.keys import SERVICES

    async def link() -> None:
        async with server.app[SERVICES].core.db.transaction() as conn:
            await db_projects.update_project(
                conn, project["id"], "2030-01-01T00:00:00.000Z", github_owner="o", github_repo="r"
            )

    server.call(link())
    protected = await api.put("/api/projects/repo", json={"protected_main": True})
    assert protected.status_code == 200
    assert protected.json()["protected_main"] is True
    assert protected.json()["github"] == {"owner": "o", "repo": "r"}
    assert (await api.get("/api/projects/repo")).json()["protected_main"] is True


async def test_unknown_project_is_404_everywhere(api: httpx.AsyncClient) -> None:
    for path in ["", "/files", "/browse", "/blob/README.md"]:
        assert_error(await api.get(f"/api/projects/ghost{path}"), 404, "not_found")
