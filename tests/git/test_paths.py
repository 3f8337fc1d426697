"""safe_join and path_segments: nothing a client or the model writes can leave the repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codality_server.domain.errors import InvalidInput
from codality_server.git.paths import path_segments, safe_join


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A folder with a file, a subfolder, a link inside and links that point out."""
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "app.py").write_text("x = 1\n")
    (tmp_path / "secret.txt").write_text("outside\n")
    os.symlink("src", repo / "code")
    os.symlink("/etc/passwd", repo / "evil")
    os.symlink("../../secret.txt", repo / "src" / "up")
    os.symlink(tmp_path, repo / "parent")
    return repo


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("src/app.py", "src/app.py"),
        ("./src//app.py", "src/app.py"),
        ("src/", "src"),
        ("new/file.txt", "new/file.txt"),
        ("code/app.py", "code/app.py"),
    ],
)
def test_safe_join_keeps_paths_inside(root: Path, relative: str, expected: str) -> None:
    joined = safe_join(root, relative)
    assert joined == root / expected
    assert joined.resolve().is_relative_to(root.resolve())


def test_safe_join_of_nothing_is_the_root(root: Path) -> None:
    assert safe_join(root, "") == root
    assert safe_join(root, ".") == root


@pytest.mark.parametrize(
    "relative",
    [
        "..",
        "../secret.txt",
        "src/../../secret.txt",
        "src/..",
        "/etc/passwd",
        "//etc/passwd",
        "src/app.py\x00.txt",
        "..\\secret.txt",
        "src\\..\\..\\secret.txt",
    ],
)
def test_safe_join_refuses_escapes_by_name(root: Path, relative: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        safe_join(root, relative)
    assert caught.value.field == "path"


@pytest.mark.parametrize("relative", ["evil", "src/up", "parent/secret.txt", "parent"])
def test_safe_join_refuses_symlinks_that_lead_out(root: Path, relative: str) -> None:
    with pytest.raises(InvalidInput, match="symbolic link"):
        safe_join(root, relative)


def test_safe_join_names_the_field(root: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        safe_join(root, "../x", field="file_path")
    assert caught.value.field == "file_path"
    assert caught.value.message.startswith("file_path:")


def test_safe_join_works_when_the_root_is_reached_through_a_symlink(
    root: Path, tmp_path: Path
) -> None:
    alias = tmp_path / "alias"
    os.symlink(root, alias)
    assert safe_join(alias, "src/app.py") == alias / "src" / "app.py"
    with pytest.raises(InvalidInput):
        safe_join(alias, "evil")


@pytest.mark.parametrize(
    ("relative", "expected"),
    [("", []), (".", []), ("/", None), ("src", ["src"]), ("./src//app.py/", ["src", "app.py"])],
)
def test_path_segments_normalise(relative: str, expected: list[str] | None) -> None:
    if expected is None:
        with pytest.raises(InvalidInput):
            path_segments(relative)
    else:
        assert path_segments(relative) == expected


@pytest.mark.parametrize("relative", ["../x", "a/../../x", "/abs", "a\\b", "a\x00b", "a/.."])
def test_path_segments_refuse_what_safe_join_refuses(relative: str) -> None:
    with pytest.raises(InvalidInput):
        path_segments(relative)
