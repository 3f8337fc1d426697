"""Tickets over HTTP on the real server: numbering, fields, moves, assignment, filters, events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from codality_server.domain.ticket_moves import Action
from codality_server.domain.tickets import TicketStatus
from codality_server.http.keys import SERVICES
from tests.conftest import RunningServer, assert_error, create_project, create_ticket
from tests.server.repos import make_repo


async def next_event(lines: AsyncIterator[str], event_type: str) -> dict[str, Any]:
    """The payload of the next SSE frame of ``event_type`` (frames of other types are skipped)."""
    current = ""
    async with asyncio.timeout(15):
        async for line in lines:
            if line.startswith("event: "):
                current = line.removeprefix("event: ")
            elif line.startswith("data: ") and current == event_type:
                return dict(json.loads(line.removeprefix("data: ")))
    raise AssertionError(f"the stream ended before a {event_type} event")


async def subscribed_lines(stream: httpx.Response) -> AsyncIterator[str]:
    """The stream's lines, after the server confirmed the subscription."""
    lines = stream.aiter_lines()
    async with asyncio.timeout(15):
        async for line in lines:
            if line == ": connected":
                break
    return lines


def tickets_url(project: dict[str, Any], suffix: str = "") -> str:
    return f"/api/projects/{project['slug']}/tickets{suffix}"


# --- create and show ------------------------------------------------------------------------


async def test_create_applies_defaults_and_show_returns_the_same_ticket(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    me = (await api.get("/api/auth/me")).json()
    created = await create_ticket(api, project["slug"], title="  Fix the login crash  ")
    assert created["number"] == 1
    assert created["title"] == "Fix the login crash"
    assert (created["kind"], created["priority"], created["status"]) == (
        "task",
        "medium",
        "backlog",
    )
    assert created["description"] == ""
    assert created["assignee"] is None
    assert created["created_by"] == me["id"]
    assert created["project_id"] == project["id"]
    assert created["branch"] is None and created["worktree_path"] is None
    assert created["agent_status"] is None and created["pull_request"] is None
    assert created["depends_on"] == []
    shown = await api.get(tickets_url(project, "/1"))
    assert shown.status_code == 200
    assert shown.json() == created


async def test_create_with_every_field(api: httpx.AsyncClient, project: dict[str, Any]) -> None:
    me = (await api.get("/api/auth/me")).json()
    created = await create_ticket(
        api,
        project["slug"],
        title="Crash on start",
        description="## Steps\n\n1. run it\n",
        kind="bug",
        priority="urgent",
        status="inbox",
        assignee=me["id"],
    )
    assert created["description"] == "## Steps\n\n1. run it\n"
    assert (created["kind"], created["priority"], created["status"]) == ("bug", "urgent", "inbox")
    assert created["assignee"] == me["id"]


async def test_numbers_count_per_project(
    api: httpx.AsyncClient, project: dict[str, Any], tmp_path: Path
) -> None:
    other = await create_project(api, make_repo(tmp_path / "other", branch="trunk"))
    assert [(await create_ticket(api, project["slug"]))["number"] for _ in range(3)] == [1, 2, 3]
    assert (await create_ticket(api, other["slug"]))["number"] == 1


async def test_fifty_concurrent_creates_get_numbers_one_to_fifty(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    responses = await asyncio.gather(
        *(api.post(tickets_url(project), json={"title": f"Ticket {i}"}) for i in range(50))
    )
    assert [r.status_code for r in responses] == [201] * 50, [r.text for r in responses]
    assert sorted(r.json()["number"] for r in responses) == list(range(1, 51))
    listed = (await api.get(tickets_url(project), params={"limit": 500})).json()
    assert [t["number"] for t in listed] == list(range(1, 51))


@pytest.mark.parametrize(
    "body,field",
    [
        ({"description": "no title"}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 501}, "title"),
        ({"title": 5}, "title"),
        ({"title": "ok", "description": "x" * (100 * 1024 + 1)}, "description"),
        ({"title": "ok", "kind": "epic"}, "kind"),
        ({"title": "ok", "priority": "whenever"}, "priority"),
        ({"title": "ok", "status": "doing"}, "status"),
        ({"title": "ok", "assignee": 999}, "assignee"),
        ({"title": "ok", "assignee": "bob"}, "assignee"),
        ({"title": "ok", "colour": "red"}, "colour"),
    ],
)
async def test_create_refuses_bad_fields_naming_them(
    api: httpx.AsyncClient, project: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    error = assert_error(await api.post(tickets_url(project), json=body), 400, "invalid_input")
    assert error["field"] == field
    assert (await api.get(tickets_url(project))).json() == []


async def test_bad_enum_lists_the_allowed_values(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    error = assert_error(
        await api.post(tickets_url(project), json={"title": "t", "kind": "epic"}), 400
    )
    for allowed in ("bug", "feature", "task", "chore"):
        assert allowed in error["message"]


async def test_unknown_project_and_ticket_are_404(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    assert_error(await api.get("/api/projects/nope/tickets"), 404, "not_found")
    assert_error(await api.post("/api/projects/nope/tickets", json={"title": "t"}), 404)
    assert_error(await api.get("/api/projects/nope/tickets/1"), 404)
    assert_error(await api.get(tickets_url(project, "/7")), 404, "not_found")
    assert_error(await api.put(tickets_url(project, "/7"), json={"title": "t"}), 404)
    assert_error(await api.patch(tickets_url(project, "/7/status"), json={"status": "done"}), 404)
    assert_error(await api.patch(tickets_url(project, "/7/assign"), json={"assignee": None}), 404)
    assert_error(await api.get(tickets_url(project, "/abc")), 400, "invalid_input")


async def test_signed_out_requests_are_refused(
    anon: httpx.AsyncClient, api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    assert_error(await anon.get(tickets_url(project)), 401)
    assert_error(await anon.post(tickets_url(project), json={"title": "t"}), 401)


# --- edit, move, assign ---------------------------------------------------------------------


async def test_update_changes_only_the_given_fields(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    before = await create_ticket(api, project["slug"], title="Old", description="body", kind="bug")
    response = await api.put(tickets_url(project, "/1"), json={"title": " New ", "priority": "low"})
    assert response.status_code == 200
    after = response.json()
    assert (after["title"], after["priority"]) == ("New", "low")
    assert (after["description"], after["kind"]) == ("body", "bug")
    assert after["updated_at"] >= before["updated_at"]
    assert (await api.get(tickets_url(project, "/1"))).json() == after


async def test_update_refuses_nothing_and_bad_values(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    await create_ticket(api, project["slug"])
    assert_error(await api.put(tickets_url(project, "/1"), json={}), 400)
    assert (
        assert_error(await api.put(tickets_url(project, "/1"), json={"kind": "x"}), 400)["field"]
        == "kind"
    )
    assert (
        assert_error(await api.put(tickets_url(project, "/1"), json={"title": ""}), 400)["field"]
        == "title"
    )
    assert (
        assert_error(await api.put(tickets_url(project, "/1"), json={"status": "done"}), 400)[
            "field"
        ]
        == "status"
    )


async def test_manual_status_moves_may_go_anywhere(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    await create_ticket(api, project["slug"])
    for status in ("done", "inbox", "cancelled", "in_review", "backlog", "in_progress"):
        response = await api.patch(tickets_url(project, "/1/status"), json={"status": status})
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
    assert (await api.get(tickets_url(project, "/1"))).json()["status"] == "in_progress"
    error = assert_error(
        await api.patch(tickets_url(project, "/1/status"), json={"status": "doing"}), 400
    )
    assert error["field"] == "status" and "in_review" in error["message"]
    assert_error(await api.patch(tickets_url(project, "/1/status"), json={}), 400)


async def test_assign_to_a_user_the_agent_or_nobody(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    me = (await api.get("/api/auth/me")).json()
    await create_ticket(api, project["slug"])
    url = tickets_url(project, "/1/assign")
    assert (await api.patch(url, json={"assignee": me["id"]})).json()["assignee"] == me["id"]
    assert (await api.patch(url, json={"assignee": "agent"})).json()["assignee"] == "agent"
    assert (await api.patch(url, json={"assignee": None})).json()["assignee"] is None
    for bad in (12345, "bob", True, 0, -3, 1.5):
        error = assert_error(await api.patch(url, json={"assignee": bad}), 400, "invalid_input")
        assert error["field"].startswith("assignee"), error
    assert_error(await api.patch(url, json={}), 400)
    assert (await api.get(tickets_url(project, "/1"))).json()["assignee"] is None


# --- listing --------------------------------------------------------------------------------


async def test_list_filters_and_pages_by_number(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    me = (await api.get("/api/auth/me")).json()
    slug = project["slug"]
    await create_ticket(api, slug, title="one", kind="bug", priority="high", status="inbox")
    await create_ticket(api, slug, title="two", kind="feature", assignee="agent")
    await create_ticket(api, slug, title="three", kind="bug", status="done", assignee=me["id"])
    await create_ticket(api, slug, title="four", priority="high")

    async def numbers(**params: Any) -> list[int]:
        response = await api.get(tickets_url(project), params=params)
        assert response.status_code == 200, response.text
        return [ticket["number"] for ticket in response.json()]

    assert await numbers() == [1, 2, 3, 4]
    assert await numbers(status="backlog") == [2, 4]
    assert await numbers(status=["inbox", "done"]) == [1, 3]
    assert await numbers(kind="bug") == [1, 3]
    assert await numbers(priority="high") == [1, 4]
    assert await numbers(kind="bug", priority="high") == [1]
    assert await numbers(assignee="agent") == [2]
    assert await numbers(assignee=str(me["id"])) == [3]
    assert await numbers(assignee="none") == [1, 4]
    assert await numbers(limit=2) == [1, 2]
    assert await numbers(limit=2, offset=2) == [3, 4]
    assert await numbers(offset=10) == []


@pytest.mark.parametrize(
    "params,field",
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"status": "doing"}, "status"),
        ({"kind": "epic"}, "kind"),
        ({"priority": "p0"}, "priority"),
        ({"assignee": "bob"}, "assignee"),
        ({"sort": "title"}, "sort"),
    ],
)
async def test_list_refuses_bad_filters(
    api: httpx.AsyncClient, project: dict[str, Any], params: dict[str, str], field: str
) -> None:
    error = assert_error(await api.get(tickets_url(project), params=params), 400, "invalid_input")
    assert error["field"].split(".")[0] == field


# --- events ---------------------------------------------------------------------------------


async def test_status_change_publishes_ticket_updated_on_the_ticket_channel(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    ticket = await create_ticket(api, project["slug"])
    async with api.stream(
        "GET", "/api/events", params={"channel": f"ticket:{ticket['id']}"}, timeout=None
    ) as stream:
        lines = await subscribed_lines(stream)
        moved = await api.patch(tickets_url(project, "/1/status"), json={"status": "in_review"})
        assert moved.status_code == 200
        frame = await next_event(lines, "ticket:updated")
    assert frame["type"] == "ticket:updated"
    assert frame["channel"] == f"ticket:{ticket['id']}"
    assert frame["data"] == moved.json()


async def test_created_and_assigned_tickets_are_announced_on_the_project_channel(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    async with api.stream(
        "GET", "/api/events", params={"channel": f"project:{project['id']}"}, timeout=None
    ) as stream:
        lines = await subscribed_lines(stream)
        created = await create_ticket(api, project["slug"], title="announced")
        assert (await next_event(lines, "ticket:created"))["data"] == created
        assigned = await api.patch(tickets_url(project, "/1/assign"), json={"assignee": "agent"})
        frame = await next_event(lines, "ticket:updated")
    assert frame["channel"] == f"project:{project['id']}"
    assert frame["data"] == assigned.json()
    assert frame["data"]["assignee"] == "agent"


# --- used by other parts through the service ------------------------------------------------


async def test_worktree_and_status_by_id_show_in_the_view(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    ticket = await create_ticket(api, project["slug"], title="Add a cache")
    tickets = server.app[SERVICES].tickets
    server.call(tickets.set_worktree(ticket["id"], "codality/1-add-a-cache", "/wt/1"))
    server.call(tickets.move(ticket["id"], Action.BY_HAND, TicketStatus.IN_PROGRESS))
    shown = (await api.get(tickets_url(project, "/1"))).json()
    assert (shown["branch"], shown["worktree_path"]) == ("codality/1-add-a-cache", "/wt/1")
    assert shown["status"] == "in_progress"
    server.call(tickets.set_worktree(ticket["id"], None, None))
    cleared = (await api.get(tickets_url(project, "/1"))).json()
    assert cleared["branch"] is None and cleared["worktree_path"] is None
