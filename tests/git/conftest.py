"""Git test helpers: the server's git work runs once with the ``git`` executable doing the heavy
plumbing and once with dulwich alone (as where git is not installed)."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["git", "dulwich"])
def git_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "dulwich":
        monkeypatch.setenv("CODALITY_NO_GIT_CLI", "1")
    return str(request.param)
