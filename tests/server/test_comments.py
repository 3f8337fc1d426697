"""Comments over HTTP on the real server: posting, listing, authors, limits and events."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from codality_server.http.keys import SERVICES
from tests.conftest import RunningServer, assert_error, create_project, create_ticket
from tests.fakes.anthropic_server import FakeAnthropic, text, tool
from tests.server.test_tickets import next_event, subscribed_lines


@pytest.fixture
async def ticket(api: httpx.AsyncClient, git_repo: Path) -> dict[str, Any]:
    project = await create_project(api, git_repo)
    created = await create_ticket(api, project["slug"], title="Commented ticket")
    return {**created, "slug": project["slug"]}


def comments_url(ticket: dict[str, Any], number: int | None = None) -> str:
    return f"/api/projects/{ticket['slug']}/tickets/{number or ticket['number']}/comments"


async def test_post_then_list_oldest_first_with_the_author(
    api: httpx.AsyncClient, ticket: dict[str, Any]
) -> None:
    me = (await api.get("/api/auth/me")).json()
    assert (await api.get(comments_url(ticket))).json() == []
    first = await api.post(comments_url(ticket), json={"body": "Looks **odd** on mobile.\n"})
    assert first.status_code == 201, first.text
    comment = first.json()
    assert comment["body"] == "Looks **odd** on mobile.\n"
    assert comment["ticket_id"] == ticket["id"]
    assert comment["author_kind"] == "user"
    assert comment["author"] == {"id": me["id"], "name": me["name"], "email": me["email"]}
    assert comment["created_at"]
    second = (await api.post(comments_url(ticket), json={"body": "Second"})).json()
    listed = (await api.get(comments_url(ticket))).json()
    assert listed == [comment, second]


async def test_agent_comments_have_no_user_author(
    server: RunningServer, api: httpx.AsyncClient, ticket: dict[str, Any]
) -> None:
    comments = server.app[SERVICES].comments
    view = server.call(
        comments.create(ticket["slug"], ticket["number"], "Done: added a test.", None, "agent")
    )
    assert view["author"] is None and view["author_kind"] == "agent"
    assert (await api.get(comments_url(ticket))).json() == [view]


@pytest.mark.parametrize(
    "body",
    [{}, {"body": ""}, {"body": "  \n "}, {"body": 42}, {"body": "x" * (100 * 1024 + 1)}],
)
async def test_bad_bodies_are_refused_naming_the_field(
    api: httpx.AsyncClient, ticket: dict[str, Any], body: dict[str, Any]
) -> None:
    error = assert_error(await api.post(comments_url(ticket), json=body), 400, "invalid_input")
    assert error["field"] == "body"
    assert (await api.get(comments_url(ticket))).json() == []


async def test_unknown_ticket_or_project_is_404(
    api: httpx.AsyncClient, ticket: dict[str, Any]
) -> None:
    assert_error(await api.get(comments_url(ticket, 99)), 404, "not_found")
    assert_error(await api.post(comments_url(ticket, 99), json={"body": "hi"}), 404)
    assert_error(await api.get("/api/projects/nope/tickets/1/comments"), 404)
    assert_error(await api.post("/api/projects/nope/tickets/1/comments", json={"body": "x"}), 404)


async def test_signed_out_requests_are_refused(
    anon: httpx.AsyncClient, ticket: dict[str, Any]
) -> None:
    assert_error(await anon.get(comments_url(ticket)), 401)
    assert_error(await anon.post(comments_url(ticket), json={"body": "hi"}), 401)


async def test_comment_created_arrives_on_the_ticket_channel(
    api: httpx.AsyncClient, ticket: dict[str, Any]
) -> None:
    async with api.stream(
        "GET", "/api/events", params={"channel": f"ticket:{ticket['id']}"}, timeout=None
    ) as stream:
        lines = await subscribed_lines(stream)
        posted = (await api.post(comments_url(ticket), json={"body": "ping"})).json()
        frame = await next_event(lines, "comment:created")
    assert frame["channel"] == f"ticket:{ticket['id']}"
    assert frame["data"] == posted


async def test_a_comment_on_a_running_agent_reaches_the_model(
    agent_api: httpx.AsyncClient, ticket: dict[str, Any], fake_anthropic: FakeAnthropic
) -> None:
    api = agent_api
    # The agent's one command signals it has begun, then holds the run open until released.
    fake_anthropic.script(
        tool("bash", command="touch started; while [ ! -f release ]; do sleep 0.05; done"),
        text("Handled the note."),
    )
    base = f"/api/projects/{ticket['slug']}/tickets/{ticket['number']}"
    assert (await api.post(f"{base}/agent/start", json={})).status_code == 202
    async with asyncio.timeout(30):
        while True:
            worktree = (await api.get(base)).json()["worktree_path"]
            if worktree and (Path(worktree) / "started").exists():
                break
            await asyncio.sleep(0.05)
    posted = await api.post(comments_url(ticket), json={"body": "Use tabs, not spaces."})
    assert posted.status_code == 201
    (Path(worktree) / "release").touch()
    async with asyncio.timeout(30):
        while (await api.get(f"{base}/agent/status")).json()["running"]:
            await asyncio.sleep(0.05)
    async with api.stream(
        "GET",
        "/api/events",
        params={"channel": f"ticket:{ticket['id']}"},
        headers={"Last-Event-ID": "0"},
        timeout=None,
    ) as stream:
        delivered = await next_event(stream.aiter_lines(), "agent:user_message")
    assert delivered["data"]["text"] == "Use tabs, not spaces."
    assert delivered["data"]["source"] == "comment"
    after_the_command = json.dumps(fake_anthropic.requests[1]["messages"][-1])
    assert "Use tabs, not spaces." in after_the_command
