"""Discovery conversations and their actions over HTTP on the real server.

Proposals here are stored through the service on the server's loop (as the discovery agent stores
them); the agent's own path, from the fake model's tool calls, is tested in ``test_replies.py``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from codality_server.domain.discover import ReplyStatus
from codality_server.domain.errors import InvalidInput, NotFound
from codality_server.http.keys import SERVICES
from codality_server.services.discover_agent import owner
from tests.conftest import RunningServer, assert_error, create_ticket


def url(project: dict[str, Any], suffix: str = "") -> str:
    return f"/api/projects/{project['slug']}/discover/conversations{suffix}"


async def new_conversation(
    api: httpx.AsyncClient, project: dict[str, Any], title: str = ""
) -> dict[str, Any]:
    response = await api.post(url(project), json={"title": title})
    assert response.status_code == 201, response.text
    return dict(response.json())


def propose(
    server: RunningServer,
    project: dict[str, Any],
    conversation: dict[str, Any],
    tool: str,
    raw: Any,
) -> dict[str, Any]:
    """Store a proposal on a fresh reply and its session, as the discovery agent does."""
    services = server.app[SERVICES]
    discover = services.discover

    async def run() -> dict[str, Any]:
        found = await services.projects.get(project["slug"])
        message_id = await discover.start_reply(conversation["id"], "scripted")
        session = await services.agent_sessions.create(
            owner(conversation["id"]), "discovery", (), "manual", "scripted", "none", None
        )
        await discover.link_session(message_id, session.id)
        action = await discover.propose(
            found, conversation["id"], message_id, session.id, tool, raw
        )
        await discover.finish_reply(message_id, ReplyStatus.COMPLETE)
        return dict(action.view())

    return dict(server.call(run()))


async def decide(
    api: httpx.AsyncClient,
    project: dict[str, Any],
    conversation: dict[str, Any],
    action: dict[str, Any],
    **body: Any,
) -> httpx.Response:
    return await api.post(url(project, f"/{conversation['id']}/actions/{action['id']}"), json=body)


# --- conversations -------------------------------------------------------------------------------


async def test_create_list_show_rename_delete(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    first = await new_conversation(api, project, "  What would SSO take?  ")
    second = await new_conversation(api, project)
    assert first["title"] == "What would SSO take?"
    assert second["title"] == "" and second["messages"] == []
    listed = (await api.get(url(project))).json()
    assert [c["id"] for c in listed] == [second["id"], first["id"]]

    renamed = await api.put(url(project, f"/{second['id']}"), json={"title": "Caching"})
    assert renamed.status_code == 200 and renamed.json()["title"] == "Caching"
    shown = (await api.get(url(project, f"/{second['id']}"))).json()
    assert shown["title"] == "Caching" and shown["streaming"] is False

    assert (await api.delete(url(project, f"/{second['id']}"))).status_code == 204
    assert_error(await api.get(url(project, f"/{second['id']}")), 404, "not_found")
    assert [c["id"] for c in (await api.get(url(project))).json()] == [first["id"]]


async def test_bad_input_is_a_400_naming_the_field(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    conversation = await new_conversation(api, project)
    error = assert_error(await api.post(url(project), json={"title": 5}), 400, "invalid_input")
    assert error["message"].startswith("title")
    assert_error(await api.post(url(project), json={"colour": "red"}), 400)
    assert_error(await api.put(url(project, f"/{conversation['id']}"), json={"title": ""}), 400)
    assert_error(await api.put(url(project, f"/{conversation['id']}"), json={}), 400)
    assert_error(await api.get(url(project, "/abc")), 400)
    assert_error(await api.get(url(project, "/999")), 404)
    assert_error(await api.get("/api/projects/nope/discover/conversations"), 404)


async def test_a_conversation_belongs_to_its_project(
    api: httpx.AsyncClient, project: dict[str, Any], tmp_path: Any
) -> None:
    from tests.conftest import create_project
    from tests.server.repos import make_repo

    other = await create_project(api, make_repo(tmp_path / "other"))
    conversation = await new_conversation(api, project)
    assert_error(await api.get(url(other, f"/{conversation['id']}")), 404)
    assert_error(await api.delete(url(other, f"/{conversation['id']}")), 404)


# --- proposals and actions -----------------------------------------------------------------------


async def test_confirming_proposed_tickets_creates_them_and_answers_what_it_made(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    conversation = await new_conversation(api, project)
    action = propose(
        server,
        project,
        conversation,
        "propose_tickets",
        {
            "tickets": [
                {"title": "Add an SSO settings page", "kind": "feature", "priority": "high"},
                {"title": "Log in with OIDC", "description": "Use the IdP.", "depends_on": [1]},
            ],
            "rationale": "SSO needs settings first.",
        },
    )
    assert action["status"] == "pending" and action["kind"] == "tickets"
    assert (await api.get(f"/api/projects/{project['slug']}/tickets")).json() == []

    response = await decide(api, project, conversation, action, decision="confirm")
    assert response.status_code == 200, response.text
    decided = response.json()
    assert decided["status"] == "confirmed" and decided["decided_by"] is not None
    made = decided["result"]["tickets"]
    assert [(t["number"], t["title"], t["kind"], t["depends_on"]) for t in made] == [
        (1, "Add an SSO settings page", "feature", []),
        (2, "Log in with OIDC", "task", [1]),
    ]
    listed = (await api.get(f"/api/projects/{project['slug']}/tickets")).json()
    assert [t["title"] for t in listed] == ["Add an SSO settings page", "Log in with OIDC"]
    shown = (await api.get(url(project, f"/{conversation['id']}"))).json()
    stored = shown["messages"][0]["actions"][0]
    assert stored["status"] == "confirmed" and stored["result"]["tickets"][1]["number"] == 2

    again = await decide(api, project, conversation, action, decision="confirm")
    assert_error(again, 409, "conflict")
    assert_error(await decide(api, project, conversation, action, decision="reject"), 409)
    assert len((await api.get(f"/api/projects/{project['slug']}/tickets")).json()) == 2


async def test_rejecting_records_and_changes_nothing(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    conversation = await new_conversation(api, project)
    action = propose(
        server, project, conversation, "propose_tickets", {"tickets": [{"title": "Maybe"}]}
    )
    response = await decide(api, project, conversation, action, decision="reject")
    assert response.status_code == 200 and response.json()["status"] == "rejected"
    assert response.json()["result"] is None
    assert (await api.get(f"/api/projects/{project['slug']}/tickets")).json() == []
    assert_error(await decide(api, project, conversation, action, decision="reject"), 409)
    assert_error(await decide(api, project, conversation, action, decision="confirm"), 409)


async def test_edits_are_applied_and_checked_like_the_api_bodies(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    conversation = await new_conversation(api, project)
    action = propose(
        server, project, conversation, "propose_tickets", {"tickets": [{"title": "Draft"}]}
    )
    for bad, field in (
        ({"tickets": [{"title": ""}]}, "edits.tickets.0.title"),
        ({"tickets": [{"title": "x", "kind": "epic"}]}, "edits.tickets.0.kind"),
        ({"tickets": [{"title": "x", "colour": "red"}]}, "edits.tickets.0.colour"),
        ({"tickets": []}, "edits.tickets"),
        ({"tickets": [{"title": "a", "depends_on": [1]}]}, "edits"),
        ({"unknown": 1}, "edits.unknown"),
    ):
        error = assert_error(
            await decide(api, project, conversation, action, decision="confirm", edits=bad), 400
        )
        assert error["message"].startswith(field), (bad, error)
    assert_error(await decide(api, project, conversation, action, decision="reject", edits={}), 400)
    assert_error(await decide(api, project, conversation, action, decision="maybe"), 400)
    assert (await api.get(f"/api/projects/{project['slug']}/tickets")).json() == []

    edited = {"tickets": [{"title": "Edited title", "priority": "urgent"}]}
    response = await decide(api, project, conversation, action, decision="confirm", edits=edited)
    assert response.status_code == 200, response.text
    assert response.json()["proposal"]["tickets"][0]["title"] == "Edited title"
    ticket = response.json()["result"]["tickets"][0]
    assert (ticket["title"], ticket["priority"]) == ("Edited title", "urgent")


async def test_ticket_update_confirmed_and_rejected(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    ticket = await create_ticket(api, project["slug"], title="Old title")
    conversation = await new_conversation(api, project)
    change = {"number": ticket["number"], "title": "New title", "priority": "high"}
    rejected = propose(server, project, conversation, "propose_ticket_update", change)
    assert (
        await decide(api, project, conversation, rejected, decision="reject")
    ).status_code == 200
    assert (await api.get(f"/api/projects/{project['slug']}/tickets/1")).json()["title"] == (
        "Old title"
    )
    action = propose(
        server, project, conversation, "propose_ticket_update", {**change, "status": "inbox"}
    )
    response = await decide(api, project, conversation, action, decision="confirm")
    assert response.status_code == 200, response.text
    updated = (await api.get(f"/api/projects/{project['slug']}/tickets/1")).json()
    assert (updated["title"], updated["priority"], updated["status"]) == (
        "New title",
        "high",
        "inbox",
    )
    assert response.json()["result"]["ticket"]["title"] == "New title"


@pytest.mark.parametrize(
    ("tool", "raw", "field"),
    [
        ("propose_tickets", {"tickets": []}, "tickets"),
        ("propose_tickets", {"tickets": [{"title": "a", "depends_on": [2]}, {"title": "b"}]}, ""),
        ("propose_tickets", [], "input"),
        ("propose_plan", {"title": "Plan"}, "body"),
        ("propose_queue", {"name": "Q", "items": [{"ticket": "one"}]}, "items"),
        ("propose_ticket_update", {"number": 1}, ""),
        ("propose_ticket_update", {"number": 99, "title": "x"}, "not_found"),
    ],
)
async def test_a_malformed_proposal_is_refused_and_never_stored(
    server: RunningServer,
    api: httpx.AsyncClient,
    project: dict[str, Any],
    tool: str,
    raw: Any,
    field: str,
) -> None:
    await create_ticket(api, project["slug"])
    conversation = await new_conversation(api, project)
    with pytest.raises((InvalidInput, NotFound)) as caught:
        propose(server, project, conversation, tool, raw)
    if field == "not_found":
        assert isinstance(caught.value, NotFound)
    else:
        assert caught.value.message.startswith(field), caught.value.message
    shown = (await api.get(url(project, f"/{conversation['id']}"))).json()
    assert all(m["actions"] == [] for m in shown["messages"])


async def test_an_action_of_another_conversation_is_not_found(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    one = await new_conversation(api, project)
    two = await new_conversation(api, project)
    action = propose(server, project, one, "propose_tickets", {"tickets": [{"title": "T"}]})
    assert_error(await decide(api, project, two, action, decision="confirm"), 404)
    assert_error(
        await api.post(url(project, f"/{one['id']}/actions/777"), json={"decision": "reject"}), 404
    )


async def test_a_confirmed_queue_is_made_of_existing_and_new_tickets_in_order(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    existing = await create_ticket(api, project["slug"], title="Existing work")
    conversation = await new_conversation(api, project)
    proposal = {
        "name": "SSO rollout",
        "description": "Ship SSO step by step.",
        "items": [{"title": "Settings page", "kind": "feature"}, {"ticket": existing["number"]}],
    }
    rejected = propose(server, project, conversation, "propose_queue", proposal)
    assert (
        await decide(api, project, conversation, rejected, decision="reject")
    ).status_code == 200
    assert (await api.get(f"/api/projects/{project['slug']}/discover/queues")).json() == []

    action = propose(server, project, conversation, "propose_queue", proposal)
    response = await decide(
        api, project, conversation, action, decision="confirm", edits={"name": "SSO"}
    )
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert [t["title"] for t in result["tickets"]] == ["Settings page"]
    queue = result["queue"]
    assert queue["name"] == "SSO" and queue["description"] == "Ship SSO step by step."
    queues = (await api.get(f"/api/projects/{project['slug']}/discover/queues")).json()
    assert [q["id"] for q in queues] == [queue["id"]]
    shown = (await api.get(f"/api/projects/{project['slug']}/discover/queues/{queue['id']}")).json()
    assert [item["ticket"] for item in shown["items"]] == [2, existing["number"]]


async def test_a_queue_that_cannot_be_made_makes_nothing(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    """One transaction: a queue naming a ticket deleted meanwhile leaves no new tickets behind."""
    existing = await create_ticket(api, project["slug"], title="Existing work")
    conversation = await new_conversation(api, project)
    action = propose(
        server,
        project,
        conversation,
        "propose_queue",
        {"name": "Q", "items": [{"title": "New one"}, {"ticket": existing["number"]}]},
    )
    bad = {"items": [{"title": "New one"}, {"ticket": 42}]}
    error = assert_error(
        await decide(api, project, conversation, action, decision="confirm", edits=bad), 400
    )
    assert "#42" in error["message"]
    assert len((await api.get(f"/api/projects/{project['slug']}/tickets")).json()) == 1
    assert (await api.get(f"/api/projects/{project['slug']}/discover/queues")).json() == []
    still = (await api.get(url(project, f"/{conversation['id']}"))).json()
    assert still["messages"][0]["actions"][0]["status"] == "pending"


async def test_a_confirmed_plan_is_a_draft_plan_with_its_ticket_drafts(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    conversation = await new_conversation(api, project)
    proposal = {
        "title": "Single sign-on",
        "body": "# SSO\n\nUse OIDC.",
        "tickets": [{"title": "OIDC client"}, {"title": "Login button", "depends_on": [1]}],
    }
    rejected = propose(server, project, conversation, "propose_plan", proposal)
    assert (
        await decide(api, project, conversation, rejected, decision="reject")
    ).status_code == 200
    assert (await api.get(f"/api/projects/{project['slug']}/plans")).json() == []

    action = propose(server, project, conversation, "propose_plan", proposal)
    response = await decide(api, project, conversation, action, decision="confirm")
    assert response.status_code == 200, response.text
    plan = response.json()["result"]["plan"]
    shown = (await api.get(f"/api/projects/{project['slug']}/plans/{plan['id']}")).json()
    assert (shown["title"], shown["status"]) == ("Single sign-on", "draft")
    assert [(d["title"], d["depends_on"]) for d in shown["drafts"]] == [
        ("OIDC client", []),
        ("Login button", [1]),
    ]
