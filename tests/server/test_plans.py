"""Plans over HTTP on the real server: CRUD, draft rules, approval (all or nothing), events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from codality_server.http.keys import SERVICES
from tests.conftest import RunningServer, assert_error, create_project
from tests.server.repos import make_repo
from tests.server.test_tickets import next_event, subscribed_lines

DRAFTS: list[dict[str, Any]] = [
    {"title": "Schema for tags", "description": "A `tags` table.", "kind": "task"},
    {"title": "Tag API", "kind": "feature", "priority": "high", "depends_on": [1]},
    {"title": "Tags in the TUI", "kind": "feature", "priority": "low", "depends_on": [1, 2]},
]


def plans_url(project: dict[str, Any], rest: str = "") -> str:
    return f"/api/projects/{project['slug']}/plans{rest}"


async def create_plan(
    api: httpx.AsyncClient, project: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    body = {"title": "Tags", "body": "# Tags\n\nLabel tickets.", **fields}
    response = await api.post(plans_url(project), json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


# --- create, show, list, edit, delete --------------------------------------------------------


async def test_create_show_and_list(api: httpx.AsyncClient, project: dict[str, Any]) -> None:
    me = (await api.get("/api/auth/me")).json()
    plan = await create_plan(api, project, drafts=DRAFTS)
    assert (plan["title"], plan["status"], plan["project_id"]) == ("Tags", "draft", project["id"])
    assert plan["body"] == "# Tags\n\nLabel tickets."
    assert plan["created_by"] == me["id"] and plan["approved_at"] is None
    assert plan["suggestions"] == [] and plan["readiness"] is None
    assert [d["order"] for d in plan["drafts"]] == [1, 2, 3]
    assert plan["drafts"][1] == {
        "title": "Tag API",
        "description": "",
        "kind": "feature",
        "priority": "high",
        "order": 2,
        "depends_on": [1],
        "ticket": None,
    }
    assert plan["drafts"][0]["priority"] == "medium"  # the ticket default
    assert plan["created_at"] == plan["updated_at"]

    shown = await api.get(plans_url(project, f"/{plan['id']}"))
    assert shown.status_code == 200 and shown.json() == plan
    second = await create_plan(api, project, title="Second")
    listed = (await api.get(plans_url(project))).json()
    assert [p["id"] for p in listed] == [second["id"], plan["id"]]  # newest first


async def test_an_empty_plan_and_a_plan_of_another_project(
    api: httpx.AsyncClient, project: dict[str, Any], tmp_path: Path
) -> None:
    empty = await api.post(plans_url(project), json={})
    assert empty.status_code == 201
    assert (empty.json()["title"], empty.json()["body"], empty.json()["drafts"]) == ("", "", [])
    other = await create_project(api, make_repo(tmp_path / "other"))
    assert_error(await api.get(plans_url(other, f"/{empty.json()['id']}")), 404, "not_found")
    assert_error(await api.get(plans_url(project, "/999")), 404, "not_found")
    assert_error(await api.get("/api/projects/nope/plans"), 404, "not_found")


async def test_edit_title_body_and_drafts(api: httpx.AsyncClient, project: dict[str, Any]) -> None:
    plan = await create_plan(api, project)
    url = plans_url(project, f"/{plan['id']}")
    edited = await api.put(url, json={"body": "# Tags\n\nMore detail."})
    assert edited.status_code == 200
    assert (edited.json()["title"], edited.json()["body"]) == ("Tags", "# Tags\n\nMore detail.")
    # Orders are positions: given out of sequence, drafts are sorted and renumbered 1..n, and
    # their dependencies follow the renumbering.
    drafts = [
        {"title": "UI", "order": 30, "depends_on": [10, 20]},
        {"title": "Schema", "order": 10},
        {"title": "API", "order": 20, "depends_on": [10, 10]},
    ]
    edited = await api.put(url, json={"drafts": drafts, "title": "Tagging"})
    assert edited.status_code == 200, edited.text
    shown = edited.json()
    assert shown["title"] == "Tagging"
    assert [(d["order"], d["title"], d["depends_on"]) for d in shown["drafts"]] == [
        (1, "Schema", []),
        (2, "API", [1]),
        (3, "UI", [1, 2]),
    ]
    assert shown["updated_at"] >= plan["updated_at"]
    cleared = await api.put(url, json={"drafts": []})
    assert cleared.json()["drafts"] == []


async def test_drafts_that_cannot_be_sound_are_refused_naming_the_draft(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    plan = await create_plan(api, project)
    url = plans_url(project, f"/{plan['id']}")
    cases: list[tuple[list[dict[str, Any]], str]] = [
        ([{"title": "A", "depends_on": [2]}, {"title": "B"}], "drafts[0].depends_on"),
        ([{"title": "A", "depends_on": [1]}], "drafts[0].depends_on"),
        ([{"title": "A"}, {"title": "B", "depends_on": [7]}], "drafts[1].depends_on"),
        ([{"title": "A", "order": 2}, {"title": "B", "order": 2}], "drafts[1].order"),
        ([{"title": "A"}, {"title": "   "}], "drafts[1].title"),
        ([{"title": "A", "kind": "epic"}], "drafts.0.kind"),
        ([{"title": "A", "priority": "whenever"}], "drafts.0.priority"),
        ([{"title": "A", "order": 0}], "drafts.0.order"),
        ([{"title": f"T{n}"} for n in range(101)], "drafts"),
    ]
    for drafts, field in cases:
        error = assert_error(await api.put(url, json={"drafts": drafts}), 400, "invalid_input")
        assert error["message"].startswith(field), (field, error)
        refused = await api.post(plans_url(project), json={"drafts": drafts})
        assert_error(refused, 400, "invalid_input")
    assert (await api.get(url)).json()["drafts"] == []  # nothing stored
    assert_error(await api.put(url, json={}), 400, "invalid_input")
    assert_error(await api.put(url, json={"title": "x" * 501}), 400, "invalid_input")
    assert_error(await api.post(plans_url(project), json={"body": "x" * 200_000}), 400)


async def test_delete(api: httpx.AsyncClient, project: dict[str, Any]) -> None:
    plan = await create_plan(api, project)
    url = plans_url(project, f"/{plan['id']}")
    deleted = await api.delete(url)
    assert deleted.status_code == 204
    assert_error(await api.get(url), 404, "not_found")
    assert_error(await api.delete(url), 404, "not_found")
    assert (await api.get(plans_url(project))).json() == []


# --- approve ---------------------------------------------------------------------------------


async def test_approve_creates_the_tickets_with_their_dependencies(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    before = await api.post(f"/api/projects/{project['slug']}/tickets", json={"title": "Older"})
    assert before.status_code == 201
    plan = await create_plan(api, project, drafts=DRAFTS)
    url = plans_url(project, f"/{plan['id']}")
    approved = await api.post(url + "/approve")
    assert approved.status_code == 200, approved.text
    tickets = approved.json()
    assert [(t["number"], t["title"], t["kind"], t["priority"]) for t in tickets] == [
        (2, "Schema for tags", "task", "medium"),
        (3, "Tag API", "feature", "high"),
        (4, "Tags in the TUI", "feature", "low"),
    ]
    assert [t["depends_on"] for t in tickets] == [[], [2], [2, 3]]
    assert {t["status"] for t in tickets} == {"backlog"}
    assert tickets[0]["description"] == "A `tags` table."
    shown = (await api.get(f"/api/projects/{project['slug']}/tickets/4")).json()
    assert shown == tickets[2]

    plan_now = (await api.get(url)).json()
    assert plan_now["status"] == "approved" and plan_now["approved_at"]
    assert plan_now["approved_by"] == plan_now["created_by"]
    assert [d["ticket"] for d in plan_now["drafts"]] == [2, 3, 4]

    again = assert_error(await api.post(url + "/approve"), 409, "conflict")
    assert "already approved" in again["message"]
    assert_error(await api.put(url, json={"drafts": []}), 409, "conflict")
    renamed = await api.put(url, json={"title": "Tags (done)", "body": "shipped"})
    assert renamed.status_code == 200 and renamed.json()["status"] == "approved"
    listed = (await api.get(f"/api/projects/{project['slug']}/tickets")).json()
    assert len(listed) == 4


async def test_a_plan_without_drafts_is_not_approved(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    plan = await create_plan(api, project)
    error = assert_error(await api.post(plans_url(project, f"/{plan['id']}/approve")), 409)
    assert "no ticket drafts" in error["message"]
    assert (await api.get(plans_url(project, f"/{plan['id']}"))).json()["status"] == "draft"


async def test_one_ticket_failing_to_insert_rolls_the_whole_approval_back(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    db = server.app[SERVICES].core.db

    async def refuse_the_last_draft() -> None:
        async with db.transaction() as conn:
            await conn.execute(
                "CREATE TRIGGER refuse_tui BEFORE INSERT ON tickets"
                " WHEN new.title = 'Tags in the TUI'"
                " BEGIN SELECT RAISE(ABORT, 'the disk said no'); END"
            )

    async def allow_it_again() -> None:
        async with db.transaction() as conn:
            await conn.execute("DROP TRIGGER refuse_tui")

    plan = await create_plan(api, project, drafts=DRAFTS)
    url = plans_url(project, f"/{plan['id']}")
    server.call(refuse_the_last_draft())
    error = assert_error(await api.post(url + "/approve"), 409, "conflict")
    assert "Tags in the TUI" in error["message"] and "nothing was created" in error["message"]
    # Two tickets were inserted before the third failed; neither survived, nor a dependency.
    assert (await api.get(f"/api/projects/{project['slug']}/tickets")).json() == []
    dependencies = server.call(db.fetchall("SELECT * FROM ticket_dependencies"))
    assert dependencies == []
    plan_now = (await api.get(url)).json()
    assert plan_now["status"] == "draft" and [d["ticket"] for d in plan_now["drafts"]] == [None] * 3

    server.call(allow_it_again())
    approved = await api.post(url + "/approve")
    assert approved.status_code == 200
    assert [t["number"] for t in approved.json()] == [1, 2, 3]


# --- events ----------------------------------------------------------------------------------


async def test_changes_are_announced_on_the_project_channel(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    async with api.stream(
        "GET", "/api/events", params={"channel": f"project:{project['id']}"}, timeout=None
    ) as stream:
        lines = await subscribed_lines(stream)
        plan = await create_plan(api, project, drafts=DRAFTS[:1])
        frame = await next_event(lines, "plan:created")
        assert frame["channel"] == f"project:{project['id']}"
        assert frame["data"] == plan
        url = plans_url(project, f"/{plan['id']}")
        edited = (await api.put(url, json={"body": "changed"})).json()
        assert (await next_event(lines, "plan:updated"))["data"] == edited
        tickets = (await api.post(url + "/approve")).json()
        assert (await next_event(lines, "ticket:created"))["data"] == tickets[0]
        approved = (await next_event(lines, "plan:updated"))["data"]
        assert approved["status"] == "approved"
        assert (await api.delete(url)).status_code == 204
        deleted = await next_event(lines, "plan:deleted")
    assert deleted["data"] == {"id": plan["id"], "project_id": project["id"]}
