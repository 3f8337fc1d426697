"""Real answers against the document: every JSON success body the server gives during realistic
flows (accounts, projects, tickets, an agent run with the scripted model, reviews, plans,
discovery, queues, pull requests on the fake GitHub) validates against the schema
``/api/openapi.json`` gives for its route and status, every other success's media type is one
the document names, and every success with a body documents it (JSON with a schema)."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs

from codality_server.http.openapi import build_openapi
from codality_server.http.routes import all_routes
from tests.agent.conftest import agent_url, new_ticket, wait_for_block, wait_for_end
from tests.conftest import (
    RunningServer,
    attach_work,
    bearer_client,
    create_project,
    latest_outbox_code,
)
from tests.fakes.anthropic_server import FakeAnthropic, text, tool
from tests.fakes.github_server import FakeGitHub
from tests.github_flow import TICKET_BRANCH, WIDGETS, connect, linked_project, settle


@dataclass
class AnswerChecker:
    """An httpx response hook: validates each JSON success body against the document."""

    document: dict[str, Any]
    checked: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    #: Requests the server refused: the flow should have none, or it checks less than it says.
    refused: list[str] = field(default_factory=list)

    def _operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        candidates = []
        for template, operations in self.document["paths"].items():
            pattern = re.sub(r"\\\{path\\\}", ".+", re.escape(template))
            pattern = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", pattern)
            if method.lower() in operations and re.fullmatch(pattern, path):
                candidates.append((template.count("{"), template))
        assert candidates, f"{method} {path} is not in the document"
        template = min(candidates)[1]
        return template, self.document["paths"][template][method.lower()]

    async def __call__(self, response: httpx.Response) -> None:
        if not response.is_success:
            await response.aread()
            self.refused.append(f"{response.request.method} {response.request.url.path}")
            return
        if response.status_code == 204:
            return
        method = response.request.method
        template, operation = self._operation(method, response.request.url.path)
        name = f"{method} {template} {response.status_code}"
        content = operation["responses"].get(str(response.status_code), {}).get("content", {})
        media = response.headers.get("content-type", "").partition(";")[0].strip()
        if media != "application/json":  # a stream or bytes: its type is checked, not read
            if media not in content:
                self.problems.append(f"{name}: {media!r} is not among {sorted(content)}")
            self.checked.add(name)
            return
        await response.aread()
        schema = content.get("application/json", {}).get("schema")
        if schema is None:
            self.problems.append(f"{name}: no schema for a JSON answer")
            return
        validator = jsonschema_rs.Draft202012Validator(
            {**schema, "components": self.document["components"]}
        )
        errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(response.json())]
        if errors:
            self.problems.append(f"{name}: {errors[:3]}")
        self.checked.add(name)


async def checking(api: httpx.AsyncClient) -> AnswerChecker:
    checker = AnswerChecker((await api.get("/api/openapi.json")).json())
    api.event_hooks["response"].append(checker)
    return checker


def checked_client(server: RunningServer, checker: AnswerChecker, token: str) -> httpx.AsyncClient:
    """A client signed in with ``token`` whose answers ``checker`` validates too."""
    client = bearer_client(server.url, token)
    client.event_hooks["response"].append(checker)
    return client


def test_every_answer_with_a_body_documents_it() -> None:
    """Every success but a 204 or a redirect documents its body: JSON with a schema, anything
    else (an event stream, a file, a page) by its media types."""
    document = build_openapi(all_routes())
    answers = [
        (f"{method.upper()} {path} {status}", answer)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for status, answer in operation["responses"].items()
        if status[0] == "2" and status != "204"
    ]
    undocumented = [
        name
        for name, answer in answers
        if not answer.get("content")
        or any("schema" not in media for media in answer["content"].values())
    ]
    assert len(answers) > 90
    assert undocumented == []
    not_json = {name for name, answer in answers if "application/json" not in answer["content"]}
    assert not_json == {
        "GET /api/events 200",
        "GET /api/projects/{slug}/blob/{path} 200",
        "GET /api/github/app/manifest/form 200",
    }


async def test_answers_about_people_and_projects_match_the_document(
    server: RunningServer, anon: httpx.AsyncClient, git_repo: Path
) -> None:
    checker = await checking(anon)
    # first-run setup, then the admin's account
    code = (server.data_dir / "setup-code").read_text().strip()
    setup = {"code": code, "email": "admin@example.com", "name": "Admin"}
    admin = (await anon.post("/api/setup/verify", json=setup)).json()
    async with checked_client(server, checker, admin["token"]) as api:
        await api.get("/api/auth/me")
        await api.put("/api/me/profile", json={"name": "Ada Admin"})
        await api.put("/api/me/git-identity", json={"name": "Ada", "email": "ada@example.com"})
        # a member invited, signed in with a mailed code, made an admin
        member = (await api.post("/api/users", json={"email": "bo@example.com"})).json()
        await anon.post("/api/auth/request-otp", json={"email": "bo@example.com"})
        otp = {"email": "bo@example.com", "code": latest_outbox_code(server.data_dir)}
        signed_in = (await anon.post("/api/auth/verify-otp", json=otp)).json()
        await api.patch(f"/api/users/{member['id']}/role", json={"role": "admin"})
        await api.get("/api/users")
        async with checked_client(server, checker, signed_in["token"]) as bo:
            await bo.get("/api/people")
            await bo.post("/api/auth/logout")
        # a project registered, listed, read and changed
        project = await create_project(api, git_repo)
        await api.get("/api/projects")
        await api.get(project_url(project))
        await api.put(project_url(project), json={"name": "Widgets", "protected_main": False})

    assert checker.problems == []
    assert checker.refused == []
    expected = {
        "POST /api/setup/verify 201",
        "GET /api/auth/me 200",
        "PUT /api/me/profile 200",
        "PUT /api/me/git-identity 200",
        "POST /api/users 201",
        "POST /api/auth/request-otp 200",
        "POST /api/auth/verify-otp 200",
        "PATCH /api/users/{id}/role 200",
        "GET /api/users 200",
        "GET /api/people 200",
        "POST /api/auth/logout 200",
        "POST /api/projects 201",
        "GET /api/projects 200",
        "GET /api/projects/{slug} 200",
        "PUT /api/projects/{slug} 200",
    }
    assert expected <= checker.checked, expected - checker.checked


_TICKET_READS = (
    "diff",
    "diff/stats",
    "reviews",
    "reviews/comments",
    "merge-diff",
    "merge-diff/stats",
    "worktree/merge",
)
_PLAN_ACTIONS = ("approve", "ai/suggest", "ai/check-ready", "ai/extract-tickets")


def project_url(project: dict[str, Any], rest: str = "") -> str:
    return f"/api/projects/{project['slug']}{rest}"


async def test_answers_of_a_local_flow_match_the_document(
    server: RunningServer,
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    git_repo: Path,
) -> None:
    api = agent_api
    checker = await checking(api)
    for path in ("/healthz", "/api/setup/status", "/api/auth/me", "/api/users", "/api/settings"):
        await api.get(path)
    await api.get("/api/settings/env")
    await api.post("/api/me/ssh-key")
    await api.get("/api/me/ssh-key")
    await api.get("/api/projects")
    await api.get(project_url(project))
    await api.get(project_url(project, "/files"))
    await api.get(project_url(project, "/browse"))
    await api.get(project_url(project, "/blob/src/app.py"))
    async with api.stream("GET", "/api/events", params={"channel": "*"}) as stream:
        assert stream.status_code == 200

    # a ticket worked by the scripted agent, reviewed and merged
    fake_anthropic.script(tool("read_file", path="src/app.py"), text("Read it; all good."))
    ticket = await new_ticket(api, project["slug"])
    t = project_url(project, f"/tickets/{ticket['number']}")
    session = (await api.post(agent_url(project, ticket, "start"), json={})).json()
    await wait_for_end(api, project, ticket)
    await api.get(agent_url(project, ticket, "status"))
    await api.get(agent_url(project, ticket, f"sessions/{session['id']}"))
    other = await new_ticket(api, project["slug"], title="Friendlier greeting")
    attach_work(server, other, git_repo, git_repo.parent / "wt", "codality/2-friendlier")
    o = project_url(project, f"/tickets/{other['number']}")
    await api.put(o, json={"priority": "high"})
    await api.post(f"{o}/comments", json={"body": "Looks right"})
    await api.get(f"{o}/comments")
    await api.get(project_url(project, "/tickets"), params={"q": "greeting"})
    await api.get(project_url(project, "/tickets/search"), params={"q": "greeting"})
    for verb in ("diff", "diff/stats", "worktree/merge"):
        await api.get(f"{o}/{verb}")
    await api.post(
        f"{o}/reviews",
        json={
            "state": "commented",
            "body": "One note",
            "comments": [{"path": "src/app.py", "line": 1, "body": "nice"}],
        },
    )
    await api.get(f"{o}/reviews")
    await api.get(f"{o}/reviews/comments")
    await api.post(f"{o}/worktree/merge", json={})
    await api.get(f"{o}/merge-diff")
    await api.get(f"{o}/merge-diff/stats")
    await api.get(t)

    # a plan: the model suggests, checks readiness and splits it; then it is approved
    plans = project_url(project, "/plans")
    plan = (
        await api.post(plans, json={"title": "Tags", "body": "# Tags\n\nLabel tickets.\n"})
    ).json()
    p = f"{plans}/{plan['id']}"
    await api.get(plans)
    await api.put(p, json={"body": "# Tags\n\nLabel tickets and filter by label.\n"})
    suggestion = {"passage": "Label tickets", "text": "Name the labels.", "why": "Vague."}
    fake_anthropic.script(text("Here they are.\n\n```json\n" + json.dumps([suggestion]) + "\n```"))
    await api.post(f"{p}/ai/suggest", json={})
    fake_anthropic.script(tool("report_readiness", ready=True, explanation="Clear.", missing=[]))
    await api.post(f"{p}/ai/check-ready", json={})
    fake_anthropic.script(
        tool("propose_drafts", tickets=[{"title": "Tags table"}, {"title": "Tag filter"}])
    )
    await api.post(f"{p}/ai/extract-tickets", json={})
    await api.get(p)
    await api.post(f"{p}/approve", json={})

    # discovery: a reply that proposes tickets, confirmed
    conversations = project_url(project, "/discover/conversations")
    conversation = (await api.post(conversations, json={"title": "SSO"})).json()
    c = f"{conversations}/{conversation['id']}"
    fake_anthropic.script(
        tool("propose_tickets", tickets=[{"title": "Add SSO"}]), text("Confirm when ready.")
    )
    reply = (
        await api.post(f"{c}/messages", json={"content": "Plan SSO"}, params={"wait": "true"})
    ).json()
    await api.get(conversations)
    await api.get(c)
    await api.put(c, json={"title": "Single sign-on"})
    for action in reply["actions"]:
        await api.post(f"{c}/actions/{action['id']}", json={"decision": "confirm"})
    fake_anthropic.script(text("Noted."))
    await api.post(f"{c}/messages", json={"content": "Thanks"})

    # a queue over two tickets, run to the end
    queues = project_url(project, "/discover/queues")
    await new_ticket(api, project["slug"], title="Queued one")
    queue = (await api.post(queues, json={"name": "Night run", "tickets": [1]})).json()
    q = f"{queues}/{queue['id']}"
    await api.get(queues)
    await api.put(q, json={"name": "Nightly"})
    fake_anthropic.script(text("Queued work done."))
    await api.post(f"{q}/start")
    await wait_for_end(api, project, ticket)
    await api.get(q)

    assert checker.problems == []
    assert checker.refused == []
    expected = {
        "GET /api/me/ssh-key 200",
        "POST /api/me/ssh-key 201",
        "GET /api/projects/{slug}/files 200",
        "GET /api/projects/{slug}/browse 200",
        "GET /api/projects/{slug}/blob/{path} 200",
        "GET /api/events 200",
        "POST /api/projects/{slug}/tickets/{number}/agent/start 202",
        "GET /api/projects/{slug}/tickets/{number}/agent/status 200",
        "GET /api/projects/{slug}/tickets/{number}/agent/sessions/{session_id} 200",
        *(f"GET /api/projects/{{slug}}/tickets/{{number}}/{v} 200" for v in _TICKET_READS),
        "POST /api/projects/{slug}/tickets/{number}/reviews 201",
        "POST /api/projects/{slug}/tickets/{number}/worktree/merge 200",
        "GET /api/projects/{slug}/plans 200",
        "POST /api/projects/{slug}/plans 201",
        "GET /api/projects/{slug}/plans/{id} 200",
        "PUT /api/projects/{slug}/plans/{id} 200",
        *(f"POST /api/projects/{{slug}}/plans/{{id}}/{v} 200" for v in _PLAN_ACTIONS),
        "GET /api/projects/{slug}/discover/conversations 200",
        "POST /api/projects/{slug}/discover/conversations 201",
        "GET /api/projects/{slug}/discover/conversations/{id} 200",
        "PUT /api/projects/{slug}/discover/conversations/{id} 200",
        "POST /api/projects/{slug}/discover/conversations/{id}/messages 200",
        "POST /api/projects/{slug}/discover/conversations/{id}/messages 202",
        "POST /api/projects/{slug}/discover/conversations/{id}/actions/{action_id} 200",
        "GET /api/projects/{slug}/discover/queues 200",
        "POST /api/projects/{slug}/discover/queues 201",
        "GET /api/projects/{slug}/discover/queues/{id} 200",
        "PUT /api/projects/{slug}/discover/queues/{id} 200",
        "POST /api/projects/{slug}/discover/queues/{id}/start 200",
    }
    assert expected <= checker.checked, expected - checker.checked


async def test_answers_about_interrupted_work_match_the_document(
    agent_api: httpx.AsyncClient, fake_anthropic: FakeAnthropic, project: dict[str, Any]
) -> None:
    api = agent_api
    checker = await checking(api)
    # a running agent takes a message and is stopped; its worktree is discarded
    fake_anthropic.script(tool("bash", command="sleep 30"))
    busy = await new_ticket(api, project["slug"], title="Slow one")
    session = (await api.post(agent_url(project, busy, "start"), json={})).json()
    await wait_for_block(api, project, busy, session["id"], "tool_call")
    await api.post(agent_url(project, busy, "message"), json={"message": "Hurry", "mode": "queue"})
    await api.post(agent_url(project, busy, "stop"))
    await api.post(project_url(project, f"/tickets/{busy['number']}/worktree/discard"), json={})

    # a queue cancelled while its agent runs, then released
    fake_anthropic.script(tool("bash", command="sleep 30"))
    queues = project_url(project, "/discover/queues")
    queue = (await api.post(queues, json={"name": "Night run", "tickets": [1]})).json()
    started = (await api.post(f"{queues}/{queue['id']}/start")).json()
    await wait_for_block(api, project, busy, started["items"][0]["session"], "tool_call")
    await api.post(f"{queues}/{queue['id']}/cancel")
    await api.post(f"{queues}/{queue['id']}/release")

    # a discovery reply cancelled while it streams
    fake_anthropic.script(text("word " * 200, delay_s=0.02))
    conversations = project_url(project, "/discover/conversations")
    conversation = (await api.post(conversations, json={"title": "Busy"})).json()
    asked = len(fake_anthropic.requests)
    c = f"{conversations}/{conversation['id']}"
    await api.post(f"{c}/messages", json={"content": "Talk a lot"})
    while len(fake_anthropic.requests) == asked:
        await asyncio.sleep(0.01)
    await api.post(f"{c}/cancel")

    assert checker.problems == []
    assert checker.refused == []
    expected = {
        "POST /api/projects/{slug}/tickets/{number}/agent/message 202",
        "POST /api/projects/{slug}/tickets/{number}/agent/stop 200",
        "POST /api/projects/{slug}/tickets/{number}/worktree/discard 200",
        "POST /api/projects/{slug}/discover/queues/{id}/cancel 200",
        "POST /api/projects/{slug}/discover/queues/{id}/release 200",
        "POST /api/projects/{slug}/discover/conversations/{id}/cancel 200",
    }
    assert expected <= checker.checked, expected - checker.checked


async def test_answers_of_a_github_flow_match_the_document(
    server: RunningServer,
    api: httpx.AsyncClient,
    fake_github: FakeGitHub,
    git_repo: Path,
    tmp_path: Path,
) -> None:
    checker = await checking(api)
    await connect(api, fake_github)
    again = (await api.post("/api/github/app/manifest", json={"name": "Codality Two"})).json()
    await api.get("/api/github/app/manifest/form", params={"state": again["state"]})
    project = await linked_project(api, fake_github, git_repo)
    slug = project["slug"]
    await api.get("/api/github/app/repos")
    ticket = await new_ticket(api, slug, title="Friendlier greeting")
    attach_work(server, ticket, git_repo, tmp_path / "wt", TICKET_BRANCH)
    t = f"/api/projects/{slug}/tickets/1"
    await api.post(f"{t}/pull-request", json={})
    await api.get(f"{t}/pull-request")
    await api.get(f"/api/projects/{slug}/pull-requests")
    fake_github.comment(WIDGETS, 1, "alice", "Could you keep the exclamation mark?")
    inline = [{"path": "src/app.py", "line": 2, "body": "hi → hello"}]
    fake_github.review(WIDGETS, 1, "bob", "commented", "One thing.", inline=inline)
    settle(server, fake_github)
    await api.get("/api/github/webhooks/events")
    await api.get(f"/api/projects/{slug}/github/webhooks/events")
    await api.get(f"{t}/pull-request/status")
    await api.get(f"{t}/pull-request/comments")
    await api.post(f"{t}/pull-request/update", json={})
    await api.get(t)
    await api.post(f"{t}/pull-request/merge", json={})
    await api.get(t)
    await api.post("/api/github/detect-remote", json={"project": slug})
    await api.post("/api/github/app/repos", json={"name": "gadgets"})
    await api.post(f"/api/projects/{slug}/github/unlink")
    assert checker.problems == []
    assert checker.refused == []
    pr = "/api/projects/{slug}/tickets/{number}/pull-request"
    expected = {
        "POST /api/github/app/manifest 201",
        "GET /api/github/app/manifest/form 200",
        "GET /api/github/app/status 200",
        "GET /api/github/app/repos 200",
        "POST /api/github/app/repos 201",
        "POST /api/github/detect-remote 200",
        "POST /api/projects/{slug}/github/link 200",
        "POST /api/projects/{slug}/github/unlink 200",
        "GET /api/github/webhooks/events 200",
        "GET /api/projects/{slug}/github/webhooks/events 200",
        "GET /api/projects/{slug}/pull-requests 200",
        f"POST {pr} 201",
        f"GET {pr} 200",
        f"GET {pr}/status 200",
        f"GET {pr}/comments 200",
        f"POST {pr}/update 200",
        f"POST {pr}/merge 200",
    }
    assert expected <= checker.checked, expected - checker.checked
