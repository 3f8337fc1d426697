"""The ``git status`` records a ticket's live diff is built from."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from dulwich.index import Index, IndexEntry

from codality_server.git import cli
from codality_server.git.workdir import Worktree
from codality_server.git.worktrees import create_worktree
from tests.conftest import git

BRANCH = "codality/1-thing"


@pytest.fixture
def where(git_repo: Path, tmp_path: Path) -> Worktree:
    path = tmp_path / "worktrees" / "1"
    create_worktree(git_repo, path, BRANCH, "main")
    return Worktree.locate(git_repo, path)


def add_climbing_entry(where: Worktree) -> None:
    """Play an agent that rewrites its index to name ``../../../env``."""
    index = Index(str(where.index_path))
    some = index[b"README.md"]
    assert isinstance(some, IndexEntry)
    index[b"../../../env"] = dataclasses.replace(some, size=0, mtime=(0, 0))
    index.write()


def test_status_passes_over_names_climbing_out(where: Worktree) -> None:
    (where.root / "notes.md").write_text("work\n")
    add_climbing_entry(where)

    pending = {item.path: item for item in cli.worktree_status(where)}

    assert b"notes.md" in pending and pending[b"notes.md"].read
    assert b"../../../env" not in pending
    assert "../../../env" in git(where.root, "ls-files")  # the control: the index names it
