"""Projects over HTTP against the real server, with real repositories made by the git CLI."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import RunningServer, assert_error, git

PASSWD = Path("/etc/passwd").read_bytes() if Path("/etc/passwd").exists() else b"root:x:0:0"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"


async def create(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await api.post("/api/projects", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def make_repo(path: Path, branch: str = "main") -> Path:
    """A repository on ``branch`` with one commit, made with the git CLI."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", branch)
    (path / "README.md").write_text("# Hello\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "first")
    return path


@pytest.fixture
def rich_repo(git_repo: Path) -> Path:
    """``git_repo`` plus a binary file, a docs folder, symlinks in and out, on a third commit."""
    (git_repo / "assets").mkdir()
    (git_repo / "assets" / "logo.png").write_bytes(PNG)
    (git_repo / "docs").mkdir()
    (git_repo / "docs" / "guide.md").write_text("guide\n")
    (git_repo / "docs" / "README.md").write_text("docs readme\n")
    os.symlink("/etc/passwd", git_repo / "evil")
    os.symlink("../../etc/passwd", git_repo / "docs" / "climb")
    os.symlink("src", git_repo / "code")
    os.symlink("../README.md", git_repo / "docs" / "top")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "assets, docs and links")
    git(git_repo, "tag", "v1", "HEAD~1")
    return git_repo


@pytest.fixture
async def project(api: httpx.AsyncClient, rich_repo: Path) -> dict[str, Any]:
    return await create(api, mode="existing", path=str(rich_repo))


# --- creating ------------------------------------------------------------------------------


async def test_existing_repository_becomes_a_project(
    api: httpx.AsyncClient, git_repo: Path
) -> None:
    created = await create(api, mode="existing", path=str(git_repo))
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
    created = await create(api, mode="existing", path=str(repo), name="Trunk Based")
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
    created = await create(api, mode="existing", path=str(folder), init=True)
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
    created = await create(api, mode="existing", path=str(folder), init=True)
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
    created = await create(api, mode="existing", path=str(folder), init=True)
    assert created["default_branch"] == "develop"
    assert git(folder, "ls-files").split() == ["a.txt"]


async def test_new_repository_with_readme_at_the_default_path(
    api: httpx.AsyncClient, isolated_home: Path
) -> None:
    created = await create(api, mode="new", name="My Shiny App!")
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
    created = await create(api, mode="new", name="Proj", path=str(target))
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
    created = await create(api, mode="clone", url=str(bare))
    folder = isolated_home.resolve() / "repos" / "upstream"
    assert created["slug"] == "upstream" and created["path"] == str(folder)
    assert created["default_branch"] == "trunk"
    assert git(folder, "rev-parse", "HEAD") == git(source, "rev-parse", "HEAD")
    assert (folder / "README.md").read_text() == "# Hello\n"
    by_url = await create(
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
    await create(api, mode="existing", path=str(git_repo), name="Shop")
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


async def test_members_may_create_and_anonymous_may_not(
    anon: httpx.AsyncClient, git_repo: Path
) -> None:
    assert_error(
        await anon.post("/api/projects", json={"mode": "existing", "path": str(git_repo)}), 401
    )
    assert_error(await anon.get("/api/projects"), 401)


# --- updating --------------------------------------------------------------------------------


async def test_update_name_branch_and_protection(
    api: httpx.AsyncClient, project: dict[str, Any], rich_repo: Path, server: RunningServer
) -> None:
    git(rich_repo, "branch", "release")
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
    from codality_server.keys import SERVICES

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


# --- reading files ---------------------------------------------------------------------------


async def test_files_at_refs_and_globs(
    api: httpx.AsyncClient, project: dict[str, Any], rich_repo: Path
) -> None:
    listing = (await api.get("/api/projects/repo/files")).json()
    assert listing["ref"] == "main"
    assert listing["commit"] == git(rich_repo, "rev-parse", "HEAD").strip()
    assert listing["files"] == sorted(git(rich_repo, "ls-files").split())
    first = (await api.get("/api/projects/repo/files", params={"ref": "HEAD~2"})).json()
    assert first["files"] == ["README.md", "src/app.py"]
    tagged = (await api.get("/api/projects/repo/files", params={"ref": "v1"})).json()
    assert tagged["files"] == ["README.md", "src/app.py", "src/util.py"]
    for walked in ["main^", "HEAD~1", "main~1^0", "v1^0"]:
        again = (await api.get("/api/projects/repo/files", params={"ref": walked})).json()
        assert again["commit"] == git(rich_repo, "rev-parse", walked).strip()
    for too_far in ["HEAD~9", "HEAD^2", "main~2^"]:
        assert_error(
            await api.get("/api/projects/repo/files", params={"ref": too_far}), 404, "not_found"
        )
    short = git(rich_repo, "rev-parse", "--short=8", "HEAD~1").strip()
    by_sha = (await api.get("/api/projects/repo/files", params={"ref": short})).json()
    assert by_sha["files"] == tagged["files"]
    py = (await api.get("/api/projects/repo/files", params={"glob": "*.py"})).json()
    assert py["files"] == ["src/app.py", "src/util.py"]
    readmes = (await api.get("/api/projects/repo/files", params={"glob": "README*"})).json()
    assert readmes["files"] == ["README.md", "docs/README.md"]
    rooted = (await api.get("/api/projects/repo/files", params={"glob": "docs/*.md"})).json()
    assert rooted["files"] == ["docs/README.md", "docs/guide.md"]
    none = (await api.get("/api/projects/repo/files", params={"glob": "*.rs"})).json()
    assert none["files"] == []


async def test_unknown_or_malformed_refs(api: httpx.AsyncClient, project: dict[str, Any]) -> None:
    for ref in ["nope", "deadbeef", "0" * 40]:
        error = assert_error(
            await api.get("/api/projects/repo/files", params={"ref": ref}), 404, "not_found"
        )
        assert ref in error["message"]
    for ref in ["../../config", "refs/heads/../../../fake", "-x", "a b", "main\x00"]:
        error = assert_error(await api.get("/api/projects/repo/browse", params={"ref": ref}), 400)
        assert error["field"] == "ref"
    blob_sha = git(Path(project["path"]), "rev-parse", "HEAD:README.md").strip()
    assert_error(await api.get("/api/projects/repo/files", params={"ref": blob_sha}), 404)
    assert_error(await api.get("/api/projects/repo/files", params={"depth": "1"}), 400)


async def test_browse_one_level(api: httpx.AsyncClient, project: dict[str, Any]) -> None:
    root = (await api.get("/api/projects/repo/browse")).json()
    assert root["path"] == "" and root["ref"] == "main"
    entries = {e["name"]: e for e in root["entries"]}
    assert [e["name"] for e in root["entries"]] == [
        "assets",
        "docs",
        "src",
        "README.md",
        "code",
        "evil",
    ]
    assert entries["src"] == {"name": "src", "path": "src", "type": "dir", "size": None}
    readme_size = len(b"# Sample\n\nA sample project.\n")
    assert entries["README.md"] == {
        "name": "README.md",
        "path": "README.md",
        "type": "file",
        "size": readme_size,
    }
    assert entries["evil"] == {
        "name": "evil",
        "path": "evil",
        "type": "symlink",
        "size": len("/etc/passwd"),
    }
    assert entries["code"]["type"] == "symlink"
    src = (await api.get("/api/projects/repo/browse", params={"path": "src/"})).json()
    assert src["path"] == "src"
    assert [(e["path"], e["type"]) for e in src["entries"]] == [
        ("src/app.py", "file"),
        ("src/util.py", "file"),
    ]
    old = await api.get("/api/projects/repo/browse", params={"path": "src", "ref": "HEAD~2"})
    assert [e["name"] for e in old.json()["entries"]] == ["app.py"]
    through_link = (await api.get("/api/projects/repo/browse", params={"path": "code"})).json()
    assert through_link["path"] == "src"
    assert_error(await api.get("/api/projects/repo/browse", params={"path": "nope"}), 404)
    not_dir = assert_error(
        await api.get("/api/projects/repo/browse", params={"path": "README.md"}), 400
    )
    assert "not a folder" in not_dir["message"]


async def test_browse_shows_submodules(
    api: httpx.AsyncClient, git_repo: Path, tmp_path: Path
) -> None:
    other = make_repo(tmp_path / "lib")
    git(git_repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(other), "lib")
    git(git_repo, "commit", "-q", "-m", "submodule")
    await create(api, mode="existing", path=str(git_repo))
    entries = (await api.get("/api/projects/repo/browse")).json()["entries"]
    assert {"name": "lib", "path": "lib", "type": "submodule", "size": None} in entries
    assert_error(await api.get("/api/projects/repo/blob/lib"), 400)
    assert_error(await api.get("/api/projects/repo/blob/lib/README.md"), 404)


async def test_blob_text_binary_and_refs(
    api: httpx.AsyncClient, project: dict[str, Any], rich_repo: Path
) -> None:
    text = await api.get("/api/projects/repo/blob/src/app.py")
    assert text.status_code == 200
    assert text.content == (rich_repo / "src" / "app.py").read_bytes()
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert text.headers["x-codality-binary"] == "0"
    assert text.headers["x-content-type-options"] == "nosniff"
    assert text.headers["x-codality-commit"] == git(rich_repo, "rev-parse", "HEAD").strip()
    image = await api.get("/api/projects/repo/blob/assets/logo.png")
    assert image.content == PNG
    assert image.headers["content-type"] == "application/octet-stream"
    assert image.headers["x-codality-binary"] == "1"
    (rich_repo / "src" / "app.py").write_text("changed on disk only\n")
    committed = await api.get("/api/projects/repo/blob/src/app.py")
    assert committed.content == text.content
    assert_error(await api.get("/api/projects/repo/blob/src/util.py?ref=HEAD~2"), 404)
    assert_error(await api.get("/api/projects/repo/blob/src/app.py?ref=ghost"), 404)
    assert_error(await api.get("/api/projects/repo/blob/src"), 400)
    assert_error(await api.get("/api/projects/repo/blob/"), 400)
    assert_error(await api.get("/api/projects/repo/blob/src/app.py/more"), 404)


async def test_names_with_spaces_and_accents(api: httpx.AsyncClient, git_repo: Path) -> None:
    (git_repo / "docs").mkdir()
    (git_repo / "docs" / "naïve notes.md").write_text("é\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "unicode")
    await create(api, mode="existing", path=str(git_repo))
    files = (await api.get("/api/projects/repo/files", params={"glob": "*.md"})).json()
    assert files["files"] == ["README.md", "docs/naïve notes.md"]
    entries = (await api.get("/api/projects/repo/browse", params={"path": "docs"})).json()
    assert entries["entries"][0]["path"] == "docs/naïve notes.md"
    blob = await api.get("/api/projects/repo/blob/docs/na%C3%AFve%20notes.md")
    assert blob.status_code == 200 and blob.text == "é\n"


async def test_blob_follows_links_that_stay_inside(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    top = await api.get("/api/projects/repo/blob/docs/top")
    assert top.status_code == 200 and top.content == b"# Sample\n\nA sample project.\n"
    via_dir = await api.get("/api/projects/repo/blob/code/util.py")
    assert via_dir.content == b"VALUE = 1\n"


async def raw_get(url: str, target: str, token: str) -> tuple[int, bytes]:
    """Send ``target`` byte for byte, as no HTTP client library would (they normalise ``..``)."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    await writer.drain()
    response = await reader.read()
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


TRAVERSALS = [
    "/api/projects/repo/blob/../../../../etc/passwd",
    "/api/projects/repo/blob/src/../../../../../etc/passwd",
    "/api/projects/repo/blob/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/api/projects/repo/blob/src%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/api/projects/repo/blob/%2Fetc%2Fpasswd",
    "/api/projects/repo/blob//etc/passwd",
    "/api/projects/repo/blob/src%5C..%5C..%5Cetc%5Cpasswd",
    "/api/projects/repo/blob/README.md%00.txt",
    "/api/projects/repo/blob/evil",
    "/api/projects/repo/blob/docs/climb",
    "/api/projects/repo/blob/code/../evil",
    "/api/projects/repo/browse?path=../../etc",
    "/api/projects/repo/browse?path=%2e%2e%2F%2e%2e",
    "/api/projects/repo/browse?path=/etc",
    "/api/projects/repo/browse?path=evil",
    "/api/projects/repo/browse?path=src%2F..%2F..",
    "/api/projects/repo/files?ref=../../../../etc/passwd",
]


@pytest.mark.parametrize("target", TRAVERSALS)
async def test_no_path_escapes_the_repository(
    server: RunningServer, admin_token: str, project: dict[str, Any], target: str
) -> None:
    status, body = await raw_get(server.url, target, admin_token)
    assert status == 400, (status, body[:200])
    assert body.startswith(b'{"error": {"code": "invalid_input"')
    assert PASSWD not in body and b"root:" not in body


async def test_links_out_are_refused_with_a_reason(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    for target in ["/api/projects/repo/blob/evil", "/api/projects/repo/blob/docs/climb"]:
        error = assert_error(await api.get(target), 400, "invalid_input")
        assert "outside the repository" in error["message"]


async def test_a_vanished_repository_is_a_conflict(
    api: httpx.AsyncClient, project: dict[str, Any], rich_repo: Path
) -> None:
    git_dir = rich_repo / ".git"
    git_dir.rename(rich_repo / "moved-git")
    error = assert_error(await api.get("/api/projects/repo/files"), 409)
    assert "no longer a git repository" in error["message"]
