"""The model's work on plans, with the real anthropic SDK against the fake Messages server:
titles, readiness, extraction (repairs and refusals), a missing key, a model that overloads.

Titles, verdicts and drafts are asked for through a forced answer tool, which the scripted model
fills from its schema; ``unchecked`` turns answer in text instead (fenced JSON, bare JSON,
prose), as an endpoint that ignores ``tool_choice`` does."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from codality_server.domain.sessions import Owner, OwnerKind
from codality_server.http.keys import SERVICES
from tests.conftest import RunningServer, assert_error
from tests.fakes.anthropic_server import (
    FakeAnthropic,
    overloaded,
    system_text,
    text,
    tool,
    unchecked,
)
from tests.server.test_plans import create_plan, plans_url
from tests.server.test_tickets import next_event, subscribed_lines

BODY = "# Tags\n\nLet people label tickets and filter the board by label.\n"
DRAFTS_ANSWER = """Here is the split:

```json
[
  {"title": "Tags table", "description": "A `tags` table.", "kind": "task", "priority": "high"},
  {"title": "Tag API", "description": "CRUD.", "kind": "enhancement", "depends_on": [1]},
  {"title": "Board filter", "kind": "feature", "priority": "someday",
   "depends_on": ["Tag API", 3, 7]}
]
```"""


def last_request(fake: FakeAnthropic) -> dict[str, Any]:
    return fake.requests[-1]


def prompt_of(request: dict[str, Any]) -> str:
    content = request["messages"][0]["content"]
    return content if isinstance(content, str) else content[0]["text"]


async def naming_done(server: RunningServer) -> None:
    server.call(server.app[SERVICES].plan_agent.naming_done())


# --- titles ------------------------------------------------------------------------------------


async def test_an_untitled_plan_is_named_by_the_fast_model_after_the_answer(
    server: RunningServer,
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
) -> None:
    fake_anthropic.script(tool("give_title", title="Label tickets with tags."))
    async with agent_api.stream(
        "GET", "/api/events", params={"channel": f"project:{project['id']}"}, timeout=None
    ) as stream:
        lines = await subscribed_lines(stream)
        made = await agent_api.post(plans_url(project), json={"body": BODY})
        assert made.status_code == 201 and made.json()["title"] == ""  # answered untitled
        assert (await next_event(lines, "plan:created"))["data"]["title"] == ""
        named = await next_event(lines, "plan:updated")
    assert named["data"]["title"] == "Label tickets with tags"
    shown = await agent_api.get(plans_url(project, f"/{made.json()['id']}"))
    assert shown.json()["title"] == "Label tickets with tags"
    request = last_request(fake_anthropic)
    assert request["model"] == "claude-haiku-4-5"  # the fast model
    assert "Let people label tickets" in prompt_of(request)
    assert request["tool_choice"] == {"type": "tool", "name": "give_title"}


@pytest.mark.parametrize(
    "answer",
    [
        '```json\n{"title": "Label tickets with tags"}\n```',
        '{"title": "Label tickets with tags."}',
        "Label tickets with tags",
        "```\nLabel tickets with tags\n```",
    ],
)
async def test_a_title_answered_in_text_is_read_as_json_or_prose(
    server: RunningServer,
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    answer: str,
) -> None:
    """An endpoint that ignores tool_choice: a fenced JSON title once became the title "json"."""
    fake_anthropic.script(unchecked(text(answer)))
    made = await agent_api.post(plans_url(project), json={"body": BODY})
    await naming_done(server)
    shown = await agent_api.get(plans_url(project, f"/{made.json()['id']}"))
    assert shown.json()["title"] == "Label tickets with tags"


async def test_titles_are_only_made_for_untitled_plans_with_a_body(
    server: RunningServer,
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
) -> None:
    fake_anthropic.script(tool("give_title", title="Tagging"))
    titled = await create_plan(agent_api, project, title="Mine", body=BODY)
    empty = await agent_api.post(plans_url(project), json={})
    await naming_done(server)
    assert fake_anthropic.requests == []  # neither needs a name
    # The empty plan gets its body later: now it is named.
    url = plans_url(project, f"/{empty.json()['id']}")
    await agent_api.put(url, json={"body": BODY})
    await naming_done(server)
    assert (await agent_api.get(url)).json()["title"] == "Tagging"
    assert (await agent_api.get(plans_url(project, f"/{titled['id']}"))).json()["title"] == "Mine"


async def test_naming_without_a_key_leaves_the_plan_untitled(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    made = await api.post(plans_url(project), json={"body": BODY})
    assert made.status_code == 201
    await naming_done(server)
    assert (await api.get(plans_url(project, f"/{made.json()['id']}"))).json()["title"] == ""


# --- readiness ---------------------------------------------------------------------------------


async def test_check_ready_asks_the_fast_model_and_stores_the_verdict(
    agent_api: httpx.AsyncClient, fake_anthropic: FakeAnthropic, project: dict[str, Any]
) -> None:
    plan = await create_plan(agent_api, project, body=BODY)
    url = plans_url(project, f"/{plan['id']}")
    verdict: dict[str, Any] = {
        "ready": False,
        "explanation": "Storage is open.",
        "missing": ["a schema"],
    }
    fake_anthropic.script(tool("report_readiness", **verdict))
    checked = await agent_api.post(url + "/ai/check-ready")
    assert checked.status_code == 200, checked.text
    answer = checked.json()
    assert (answer["ready"], answer["explanation"], answer["missing"]) == (
        False,
        "Storage is open.",
        ["a schema"],
    )
    assert (await agent_api.get(url)).json()["readiness"] == answer
    request = last_request(fake_anthropic)
    assert request["model"] == "claude-haiku-4-5"
    assert "Let people label tickets" in prompt_of(request)
    assert "lenient" in system_text(request)
    assert request["tool_choice"] == {"type": "tool", "name": "report_readiness"}

    # An endpoint that answers in text: JSON (fenced or bare) is read, prose is refused.
    for answered in (f"```json\n{json.dumps(verdict)}\n```", json.dumps(verdict)):
        fake_anthropic.script(unchecked(text(answered)))
        again = (await agent_api.post(url + "/ai/check-ready")).json()
        assert {**again, "checked_at": ""} == {**answer, "checked_at": ""}
    answer = (await agent_api.get(url)).json()["readiness"]
    fake_anthropic.script(unchecked(text("I think it is fine.")))
    unusable = assert_error(await agent_api.post(url + "/ai/check-ready"), 502)
    assert "readiness verdict was unusable" in unusable["message"]
    assert (await agent_api.get(url)).json()["readiness"] == answer  # kept


# --- extraction --------------------------------------------------------------------------------


async def test_extract_stores_ordered_drafts_repairing_what_it_can(
    agent_api: httpx.AsyncClient, fake_anthropic: FakeAnthropic, project: dict[str, Any]
) -> None:
    plan = await create_plan(agent_api, project, body=BODY)
    url = plans_url(project, f"/{plan['id']}")
    fake_anthropic.script(unchecked(text(DRAFTS_ANSWER)))  # fenced JSON, not the tool
    extracted = await agent_api.post(url + "/ai/extract-tickets")
    assert extracted.status_code == 200, extracted.text
    answer = extracted.json()
    fields = ("order", "title", "kind", "priority", "depends_on")
    assert [tuple(d[f] for f in fields) for d in answer["drafts"]] == [
        (1, "Tags table", "task", "high", []),
        (2, "Tag API", "feature", "medium", [1]),
        (3, "Board filter", "feature", "medium", [2]),
    ]
    assert answer["repairs"] == [
        "draft 3 (Board filter): priority 'someday' → medium",
        "draft 3 (Board filter): dropped dependency 3 (not an earlier draft)",
        "draft 3 (Board filter): dropped dependency 7 (an unknown draft)",
    ]
    stored = (await agent_api.get(url)).json()
    assert stored["drafts"] == answer["drafts"] == answer["plan"]["drafts"]
    assert last_request(fake_anthropic)["model"] == "claude-sonnet-4-6"  # the main model

    # The drafts stay editable, and approval makes them tickets with their dependencies.
    edited = await agent_api.put(url, json={"drafts": [*answer["drafts"][:2]]})
    assert len(edited.json()["drafts"]) == 2
    tickets = (await agent_api.post(url + "/approve")).json()
    assert [t["depends_on"] for t in tickets] == [[], [1]]
    refused = assert_error(await agent_api.post(url + "/ai/extract-tickets"), 409)
    assert "approved" in refused["message"]


@pytest.mark.parametrize(
    "answer,problem",
    [
        ("Sorry, I can't split this.", "no JSON"),
        ('```json\n[{"description": "no title"}]\n```', "draft 1 has no title"),
        ('{"tickets": 3}', "not a JSON list"),
    ],
)
async def test_a_malformed_extraction_is_a_502_and_nothing_is_stored(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    answer: str,
    problem: str,
) -> None:
    plan = await create_plan(
        agent_api, project, body=BODY, drafts=[{"title": "Kept draft", "kind": "chore"}]
    )
    url = plans_url(project, f"/{plan['id']}")
    fake_anthropic.script(unchecked(text(answer)))
    error = assert_error(await agent_api.post(url + "/ai/extract-tickets"), 502, "upstream_failed")
    assert problem in error["message"] and "nothing was stored" in error["message"]
    assert [d["title"] for d in (await agent_api.get(url)).json()["drafts"]] == ["Kept draft"]


async def test_extract_through_the_answer_tool_filled_from_its_schema(
    agent_api: httpx.AsyncClient, fake_anthropic: FakeAnthropic, project: dict[str, Any]
) -> None:
    plan = await create_plan(agent_api, project, body=BODY)
    url = plans_url(project, f"/{plan['id']}")
    fake_anthropic.script(
        tool("propose_drafts", tickets=[{"title": "Tags table"}, {"depends_on": [1]}])
    )
    extracted = await agent_api.post(url + "/ai/extract-tickets")
    assert extracted.status_code == 200, extracted.text
    drafts = extracted.json()["drafts"]
    assert drafts[0]["title"] == "Tags table" and drafts[1]["title"]  # filled from the schema
    assert [d["depends_on"] for d in drafts] == [[], [1]]
    assert extracted.json()["repairs"] == []
    assert last_request(fake_anthropic)["tool_choice"] == {"type": "tool", "name": "propose_drafts"}


async def test_an_empty_plan_is_not_extracted(
    agent_api: httpx.AsyncClient, fake_anthropic: FakeAnthropic, project: dict[str, Any]
) -> None:
    plan = await create_plan(agent_api, project, body="  ")
    error = assert_error(
        await agent_api.post(plans_url(project, f"/{plan['id']}/ai/extract-tickets")), 409
    )
    assert "empty" in error["message"]
    assert fake_anthropic.requests == []


# --- failures ----------------------------------------------------------------------------------


async def test_a_missing_key_is_a_400_naming_it(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    plan = await create_plan(api, project, body=BODY)
    for verb in ("check-ready", "extract-tickets"):
        error = assert_error(
            await api.post(plans_url(project, f"/{plan['id']}/ai/{verb}")), 400, "invalid_input"
        )
        assert "ANTHROPIC_API_KEY" in error["message"]


async def test_a_model_that_overloads_then_answers(
    agent_api: httpx.AsyncClient, fake_anthropic: FakeAnthropic, project: dict[str, Any]
) -> None:
    plan = await create_plan(agent_api, project, body=BODY)
    url = plans_url(project, f"/{plan['id']}")
    verdict: dict[str, Any] = {"ready": True, "explanation": "Clear enough.", "missing": []}
    fake_anthropic.script(overloaded(), overloaded(429), tool("report_readiness", **verdict))
    checked = await agent_api.post(url + "/ai/check-ready")
    assert checked.status_code == 200, checked.text
    assert checked.json()["ready"] is True
    assert len(fake_anthropic.requests) == 3

    fake_anthropic.script(*[overloaded()] * 5)
    error = assert_error(await agent_api.post(url + "/ai/extract-tickets"), 503, "unavailable")
    assert "529" in error["message"] and "overloaded" in error["message"].lower()


# --- suggestions ------------------------------------------------------------------------------

PLAN_BODY = "# Friendlier greetings\n\nChange the greeting.\n\n## Tests\n\nTBD\n"


def suggestions_answer(*items: dict[str, str]) -> str:
    return "Here they are.\n\n```json\n" + json.dumps(list(items)) + "\n```"


async def test_suggest_reads_the_code_streams_and_answers_the_suggestions(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
) -> None:
    # The planner reads the default branch, not the project's working tree.
    (Path(project["path"]) / "src" / "app.py").write_text("uncommitted, not on main\n")
    plan = await create_plan(agent_api, project, title="Greetings", body=PLAN_BODY)
    url = plans_url(project, f"/{plan['id']}")
    first = {"passage": "TBD", "text": "A test for `greet` in tests/.", "why": "It has none."}
    stale = {"passage": "not in the plan", "text": "x", "why": "y"}
    fake_anthropic.script(
        tool("read_file", say="Let me read the greeter.", path="src/app.py"),
        text(suggestions_answer(first, stale)),
    )
    async with agent_api.stream(
        "GET", "/api/events", params={"channel": f"plan:{plan['id']}"}, timeout=None
    ) as stream:
        lines = await subscribed_lines(stream)
        answered = await agent_api.post(url + "/ai/suggest")
        assert answered.status_code == 200, answered.text
        delta = await next_event(lines, "plan:delta")
        tool_line = await next_event(lines, "plan:delta")
        updated = await next_event(lines, "plan:updated")
    assert answered.json() == [first]  # the one that can't apply is left out
    assert delta["data"]["plan_id"] == plan["id"] and delta["data"]["text"]
    # The one delta protocol: the stored block the text grows and where in it, like a ticket's.
    assert delta["data"]["kind"] == "text" and delta["data"]["at"] == 0
    assert isinstance(delta["data"]["block"], int)
    assert tool_line["data"]["kind"] == "tool_call"
    assert (tool_line["data"]["tool"], tool_line["data"]["input"]) == (
        "read_file",
        {"path": "src/app.py"},
    )
    assert updated["data"]["suggestions"] == [first]

    # The model was given the plan, read-only tools, and the file it asked for.
    request = fake_anthropic.requests[0]
    assert "Change the greeting." in prompt_of(request)
    assert {t["name"] for t in request["tools"]} == {
        "read_file",
        "grep",
        "list_directory",
        "get_ticket",
        "search_tickets",
    }
    tool_result = fake_anthropic.requests[1]["messages"][-1]["content"][0]
    assert "def greet(name)" in str(tool_result["content"])

    # The next round sees what changed since, and what it suggested before.
    await agent_api.put(url, json={"body": PLAN_BODY.replace("TBD", first["text"])})
    fake_anthropic.script(text(suggestions_answer()))
    again = await agent_api.post(url + "/ai/suggest")
    assert again.status_code == 200 and again.json() == []
    prompt = prompt_of(fake_anthropic.requests[-1])
    assert "-TBD" in prompt and "+A test for `greet` in tests/." in prompt
    assert "It has none." in prompt  # the last suggestions
    assert (await agent_api.get(url)).json()["suggestions"] == []


async def test_suggest_failures_are_clear(
    agent_api: httpx.AsyncClient, fake_anthropic: FakeAnthropic, project: dict[str, Any]
) -> None:
    plan = await create_plan(agent_api, project, title="Greetings", body=PLAN_BODY)
    url = plans_url(project, f"/{plan['id']}")
    fake_anthropic.script(text("I have no suggestions in any format."))
    error = assert_error(await agent_api.post(url + "/ai/suggest"), 502, "upstream_failed")
    assert "suggestions were unusable" in error["message"]
    fake_anthropic.script(*[overloaded()] * 5)
    error = assert_error(await agent_api.post(url + "/ai/suggest"), 503, "unavailable")
    assert "overloaded" in error["message"].lower()
    assert (await agent_api.get(url)).json()["suggestions"] == []


async def test_one_suggestion_round_at_a_time_and_deleting_stops_it(
    server: RunningServer,
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
) -> None:
    plan = await create_plan(agent_api, project, title="Greetings", body=PLAN_BODY)
    url = plans_url(project, f"/{plan['id']}")
    slow = text("x" * 2000)
    slow["delay_s"] = 0.05
    fake_anthropic.script(slow)
    first = asyncio.create_task(agent_api.post(url + "/ai/suggest"))
    supervisor = server.app[SERVICES].supervisor
    owner = Owner(OwnerKind.PLAN, plan["id"])
    async with asyncio.timeout(10):
        while supervisor.running(owner) is None:
            await asyncio.sleep(0.02)
    busy = assert_error(await agent_api.post(url + "/ai/suggest"), 409, "conflict")
    assert "already being written" in busy["message"]
    assert (await agent_api.delete(url)).status_code == 204
    stopped = await first
    assert stopped.status_code == 409 and "stopped" in stopped.json()["error"]["message"]
    sessions = server.call(
        server.app[SERVICES].core.db.fetchall(
            "SELECT id FROM agent_sessions WHERE owner_kind = 'plan'"
        )
    )
    assert sessions == []
