"""Reading a project's repository over HTTP: files, tree levels, blobs, and no way out of it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import RunningServer, assert_error, create_project, git
from tests.server.repos import PNG, add_assets_docs_and_links, make_repo

PASSWD = Path("/etc/passwd").read_bytes() if Path("/etc/passwd").exists() else b"root:x:0:0"


@pytest.fixture
def rich_repo(git_repo: Path) -> Path:
    return add_assets_docs_and_links(git_repo)


@pytest.fixture
async def project(api: httpx.AsyncClient, rich_repo: Path) -> dict[str, Any]:
    return await create_project(api, rich_repo)


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
    await create_project(api, git_repo)
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
    await create_project(api, git_repo)
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
