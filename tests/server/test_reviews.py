"""Reviews over HTTP: inline comments checked against the diff, and the feedback loop that a
``changes_requested`` review starts with the real agent runtime and the scripted model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from codality_server.http.keys import SERVICES
from tests.agent.conftest import wait_for_end
from tests.conftest import RunningServer, assert_error
from tests.fakes.anthropic_server import FakeAnthropic, text
from tests.server.test_merge import ticket_with_work, url


@pytest.fixture
async def ticket(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any], tmp_path: Path
) -> dict[str, Any]:
    return await ticket_with_work(server, api, project, tmp_path)


async def test_reviews_and_inline_comments_are_listed(
    api: httpx.AsyncClient, project: dict[str, Any], ticket: dict[str, Any]
) -> None:
    approve = await api.post(url(project, ticket, "reviews"), json={"state": "approved"})
    assert approve.status_code == 201, approve.text
    comment = {"path": "src/app.py", "line": 2, "body": "Keep the exclamation mark?"}
    commented = await api.post(
        url(project, ticket, "reviews"),
        json={"state": "commented", "body": "Looks fine.", "comments": [comment]},
    )
    assert commented.status_code == 201, commented.text
    assert commented.json()["comments"][0]["path"] == "src/app.py"
    # A line of a file that exists only as an uncommitted change is part of the diff too.
    on_notes = {"path": "notes.md", "line": 1, "body": "Commit this."}
    response = await api.post(
        url(project, ticket, "reviews"), json={"state": "commented", "comments": [on_notes]}
    )
    assert response.status_code == 201, response.text

    reviews = (await api.get(url(project, ticket, "reviews"))).json()
    assert [r["state"] for r in reviews] == ["approved", "commented", "commented"]
    assert reviews[1]["body"] == "Looks fine." and len(reviews[1]["comments"]) == 1
    comments = (await api.get(url(project, ticket, "reviews/comments"))).json()
    assert [(c["path"], c["line"]) for c in comments] == [("src/app.py", 2), ("notes.md", 1)]
    assert comments[0]["review_id"] == reviews[1]["id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"state": "rejected", "body": "no"}, "state"),
        ({"state": "commented"}, "body"),
        ({"state": "approved", "surprise": 1}, "surprise"),
        (
            {"state": "commented", "comments": [{"path": "nope.py", "line": 1, "body": "x"}]},
            "comments.0.path",
        ),
        (
            {"state": "commented", "comments": [{"path": "src/app.py", "line": 90, "body": "x"}]},
            "comments.0.line",
        ),
        (
            {"state": "commented", "comments": [{"path": "src/app.py", "line": 0, "body": "x"}]},
            "comments.0.line",
        ),
        (
            {"state": "commented", "comments": [{"path": "src/app.py", "line": 1, "body": " "}]},
            "comments.0.body",
        ),
    ],
)
async def test_bad_reviews_are_400_naming_the_field(
    api: httpx.AsyncClient,
    project: dict[str, Any],
    ticket: dict[str, Any],
    body: dict[str, Any],
    field: str,
) -> None:
    error = assert_error(await api.post(url(project, ticket, "reviews"), json=body), 400)
    assert error["field"] == field
    assert (await api.get(url(project, ticket, "reviews"))).json() == []


async def test_changes_requested_without_feedback_setting_starts_nothing(
    api: httpx.AsyncClient, project: dict[str, Any], ticket: dict[str, Any]
) -> None:
    assert (await api.put("/api/settings", json={"feedback_on_review": False})).status_code == 200
    response = await api.post(
        url(project, ticket, "reviews"), json={"state": "changes_requested", "body": "Redo it."}
    )
    assert response.status_code == 201, response.text
    assert response.json()["feedback"] == {"started": False, "reason": "feedback_on_review is off"}
    status = (await api.get(url(project, ticket, "agent/status"))).json()
    assert status["session"] is None


async def test_changes_requested_starts_the_agent_with_the_review(
    server: RunningServer,
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    ticket: dict[str, Any],
) -> None:
    fake_anthropic.script(text("I kept the greeting and committed the notes."))
    sub = server.app[SERVICES].core.bus.subscribe()
    review = {
        "state": "changes_requested",
        "body": "Please keep the old wording.",
        "comments": [{"path": "src/app.py", "line": 2, "body": "Use 'hello' here."}],
    }

    response = await agent_api.post(url(project, ticket, "reviews"), json=review)

    assert response.status_code == 201, response.text
    feedback = response.json()["feedback"]
    assert feedback["started"] is True and feedback["session"]["trigger"] == "review"
    session = await wait_for_end(agent_api, project, ticket)
    assert session["id"] == feedback["session"]["id"] and session["status"] == "completed"
    first_message = str(fake_anthropic.requests[0]["messages"][0]["content"])
    assert "Please keep the old wording." in first_message
    assert "src/app.py:2: Use 'hello' here." in first_message
    types = [event.type for event in sub.drain()]
    sub.close()
    assert "feedback:started" in types and "review:created" in types
    assert types.index("feedback:started") > types.index("review:created")


async def test_merge_is_refused_while_the_agent_runs(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    ticket: dict[str, Any],
) -> None:
    fake_anthropic.script(text("thinking it over " * 40, delay_s=0.05))
    started = await agent_api.post(url(project, ticket, "agent/start"), json={})
    assert started.status_code in (200, 201, 202), started.text
    main_before = Path(project["path"], ".git", "refs", "heads", "main").read_text()

    error = assert_error(await agent_api.post(url(project, ticket, "worktree/merge")), 409)
    assert error["reason"] == "agent_running"
    assert_error(await agent_api.post(url(project, ticket, "worktree/discard")), 409)

    assert Path(project["path"], ".git", "refs", "heads", "main").read_text() == main_before
    await agent_api.post(url(project, ticket, "agent/stop"))
    await wait_for_end(agent_api, project, ticket)
