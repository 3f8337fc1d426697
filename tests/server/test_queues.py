"""Work queues over HTTP: make, show, edit and delete them; the errors name the ticket at fault."""

from __future__ import annotations

from typing import Any

import httpx

from codality_server.http.keys import BUS
from tests.conftest import RunningServer, assert_error, create_ticket


def queues_url(project: dict[str, Any], *rest: object) -> str:
    return "/".join([f"/api/projects/{project['slug']}/discover/queues", *map(str, rest)])


async def file_tickets(api: httpx.AsyncClient, project: dict[str, Any], count: int) -> None:
    for number in range(1, count + 1):
        await create_ticket(api, project["slug"], title=f"Ticket {number}")


async def make_queue(
    api: httpx.AsyncClient, project: dict[str, Any], tickets: list[int], **body: Any
) -> dict[str, Any]:
    made = await api.post(
        queues_url(project), json={"name": "Night run", "tickets": tickets, **body}
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def numbers(queue: dict[str, Any]) -> list[int]:
    return [item["ticket"] for item in queue["items"]]


async def test_a_queue_is_made_listed_shown_and_announced(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    await file_tickets(api, project, 3)
    before = server.app[BUS].last_id
    queue = await make_queue(api, project, [3, 1], description="Overnight", merge_each=True)
    assert queue["name"] == "Night run" and queue["description"] == "Overnight"
    assert queue["status"] == "pending" and queue["merge_each"] is True
    assert queue["max_parallel"] == 1 and queue["reason"] is None
    assert numbers(queue) == [3, 1]
    first = queue["items"][0]
    assert first["title"] == "Ticket 3" and first["status"] == "pending"
    assert first["session"] is None and first["started_at"] is None
    assert queue["progress"] == {
        "total": 2,
        "pending": 2,
        "running": 0,
        "done": 0,
        "failed": 0,
        "skipped": 0,
    }

    listed = (await api.get(queues_url(project))).json()
    assert [q["id"] for q in listed] == [queue["id"]]
    assert (await api.get(queues_url(project, queue["id"]))).json() == listed[0]

    from tests.agent.conftest import project_events

    events = await project_events(api, project, after=before, until="queue:created")
    assert events[-1]["data"]["queue"]["id"] == queue["id"]


async def test_bad_ticket_lists_are_refused_naming_the_ticket(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    await file_tickets(api, project, 2)
    url = queues_url(project)
    error = assert_error(await api.post(url, json={"name": "Q", "tickets": [1, 9]}), 400)
    assert "#9" in error["message"] and error["field"] == "tickets"
    error = assert_error(await api.post(url, json={"name": "Q", "tickets": [2, 1, 2]}), 400)
    assert "#2" in error["message"] and "twice" in error["message"]
    assert_error(await api.post(url, json={"name": "Q", "tickets": []}), 400)
    assert_error(await api.post(url, json={"name": "  ", "tickets": [1]}), 400)
    assert_error(await api.post(url, json={"name": "Q", "tickets": [1], "max_parallel": 0}), 400)
    assert_error(await api.post(url, json={"name": "Q", "tickets": ["1"]}), 400)
    assert (await api.get(url)).json() == []


async def test_edit_reorders_adds_and_drops_pending_tickets(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    await file_tickets(api, project, 4)
    queue = await make_queue(api, project, [1, 2, 3])
    url = queues_url(project, queue["id"])
    edited = await api.put(url, json={"tickets": [3, 4, 1], "name": "Renamed", "max_parallel": 2})
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert numbers(body) == [3, 4, 1] and body["name"] == "Renamed" and body["max_parallel"] == 2
    assert [item["position"] for item in body["items"]] == [1, 2, 3]
    # An item that has been worked on may not be dropped.
    from codality_server.db import queues as db_queues
    from codality_server.http.keys import SERVICES

    services = server.app[SERVICES]

    async def finish_first() -> None:
        async with services.core.db.transaction() as conn:
            await db_queues.update_item(conn, body["items"][0]["id"], status="done")

    server.call(finish_first())
    error = assert_error(await api.put(url, json={"tickets": [4, 1]}), 409)
    assert "#3" in error["message"] and "done" in error["message"]
    moved = (await api.put(url, json={"tickets": [4, 1, 3]})).json()
    assert numbers(moved) == [4, 1, 3]
    assert [item["status"] for item in moved["items"]] == ["pending", "pending", "done"]
    assert_error(await api.put(url, json={}), 400)
    assert_error(await api.put(url, json={"tickets": [4, 4, 3]}), 400)


async def test_delete_removes_the_queue_but_not_its_tickets(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    await file_tickets(api, project, 2)
    queue = await make_queue(api, project, [1, 2])
    deleted = await api.delete(queues_url(project, queue["id"]))
    assert deleted.status_code == 204
    assert_error(await api.get(queues_url(project, queue["id"])), 404)
    assert_error(await api.delete(queues_url(project, queue["id"])), 404)
    tickets = (await api.get(f"/api/projects/{project['slug']}/tickets")).json()
    assert [t["number"] for t in tickets] == [1, 2]


async def test_queues_belong_to_their_project(
    api: httpx.AsyncClient, project: dict[str, Any], tmp_path: Any
) -> None:
    await file_tickets(api, project, 1)
    queue = await make_queue(api, project, [1])
    other = (
        await api.post(
            "/api/projects", json={"mode": "new", "name": "Other", "path": str(tmp_path / "other")}
        )
    ).json()
    assert_error(await api.get(queues_url(other, queue["id"])), 404)
    assert_error(await api.get(queues_url({"slug": "nope"})), 404)
