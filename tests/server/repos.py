"""Repositories for the projects tests, made with the real git CLI."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import git

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"


def make_repo(path: Path, branch: str = "main") -> Path:
    """A repository on ``branch`` with one commit, made with the git CLI."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", branch)
    (path / "README.md").write_text("# Hello\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "first")
    return path


def add_assets_docs_and_links(repo: Path) -> Path:
    """Add a binary, a docs folder and symlinks in and out (third commit); tag the second v1."""
    (repo / "assets").mkdir()
    (repo / "assets" / "logo.png").write_bytes(PNG)
    (repo / "docs").mkdir()
    (repo / "docs" / "guide.md").write_text("guide\n")
    (repo / "docs" / "README.md").write_text("docs readme\n")
    os.symlink("/etc/passwd", repo / "evil")
    os.symlink("../../etc/passwd", repo / "docs" / "climb")
    os.symlink("src", repo / "code")
    os.symlink("../README.md", repo / "docs" / "top")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "assets, docs and links")
    git(repo, "tag", "v1", "HEAD~1")
    return repo
