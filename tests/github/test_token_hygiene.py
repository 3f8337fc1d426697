"""An installation token never appears in any answer, log line, event, stored row or git config."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningServer, attach_work, create_ticket
from tests.fakes.github_server import FakeGitHub
from tests.github_flow import (
    WIDGETS,
    connect,
    linked_project,
    settle,
)


async def test_tokens_never_leak(
    server: RunningServer,
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    git_repo: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    answers: list[str] = []

    async def call(method: str, path: str, **kwargs: object) -> httpx.Response:
        response = await api.request(method, path, **kwargs)  # type: ignore[arg-type]
        answers.append(response.text)
        return response

    answers.append(str(await connect(api, fake_github)))
    project = await linked_project(api, fake_github, git_repo)
    slug = project["slug"]
    ticket = await create_ticket(api, slug, title="Leak check")
    attach_work(server, ticket, git_repo, tmp_path / "wt", "codality/1-leak-check")
    base = f"/api/projects/{slug}/tickets/1/pull-request"
    assert (await call("POST", base, json={})).status_code == 201
    (tmp_path / "wt" / "more.txt").write_text("more\n")
    for method, path in (
        ("GET", base),
        ("GET", f"{base}/status"),
        ("GET", f"{base}/comments"),
        ("POST", f"{base}/update"),
        ("GET", "/api/github/app/status"),
        ("GET", "/api/github/app/repos"),
        ("GET", "/api/settings/env"),
        ("GET", f"/api/projects/{slug}/pull-requests"),
    ):
        assert (await call(method, path)).status_code == 200, path
    fake_github.comment(WIDGETS, 1, "alice", "/codality status")
    # A push to main makes the server fetch with a token and rebase.
    fake_github.push_commit(WIDGETS, "main", {"NEW.md": "new\n"})
    settle(server, fake_github)
    assert (await call("POST", f"{base}/merge", json={})).status_code == 200
    settle(server, fake_github)
    answers.append(str((await api.get("/api/github/webhooks/events?limit=500")).json()))

    from codality_server.http.keys import BUS

    events = [str(e.data) for e in server.app[BUS]._ring]
    logs = [r.getMessage() for r in caplog.records]
    stored = [
        p.read_bytes().decode("utf-8", "replace")
        for p in server.data_dir.rglob("*")
        if p.is_file() and p.name != "env"
    ]
    configs = [p.read_text() for p in git_repo.rglob("config") if p.is_file()]
    tokens = fake_github.issued_tokens
    assert tokens, "the scenario used no installation token"
    for token in tokens:
        for where, texts in (
            ("answer", answers),
            ("event", events),
            ("log", logs),
            ("data dir", stored),
            ("git config", configs),
        ):
            assert not any(token in text for text in texts), f"a token is in a {where}"
    app = next(iter(fake_github.apps.values()))
    for secret in (app.pem.splitlines()[1], app.webhook_secret, app.client_secret):
        assert not any(secret in text for text in answers + events + logs)
