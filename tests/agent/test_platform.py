"""The agent platform without a ticket: sessions of other kinds through the same supervisor and
model client, completion hooks, tool sets, one-shot calls, and the key from the environment."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from codality_server.agent.kinds import ECHO, TICKET, AgentKind
from codality_server.agent.model import ModelRequest
from codality_server.agent.tools import READ_ONLY_TOOLS, ToolContext
from codality_server.domain.errors import InvalidInput, Unavailable
from codality_server.domain.sessions import AgentSession, Owner, OwnerKind
from codality_server.http.keys import BUS, SERVICES
from codality_server.services import Services
from codality_server.services.supervisor import LoopJob, Run, SessionSpec, Supervisor
from tests.conftest import RunningServer
from tests.fakes.anthropic_server import FakeAnthropic, overloaded, system_text, text, tool

from .conftest import agent_url, new_ticket, wait_for_end

CONVERSATION = Owner(OwnerKind.CONVERSATION, 7)


def echo_spec(owner: Owner = CONVERSATION, kind: AgentKind = ECHO) -> SessionSpec:
    return SessionSpec(owner, kind, ("project:999",), model="claude-haiku-4-5")


async def echo_job(server: RunningServer, prompt: str, **request: Any) -> LoopJob:
    services = server.app[SERVICES]
    return LoopJob(
        await services.models.client(),
        ModelRequest(model="claude-haiku-4-5", max_tokens=2000, system="Repeat.", **request),
        [{"role": "user", "content": prompt}],
        ECHO.toolbox(),
        prompt=prompt,
    )


async def test_an_echo_session_runs_through_the_supervisor_and_the_model_client(
    server: RunningServer, agent_api: httpx.AsyncClient, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(
        {
            "blocks": [
                {"type": "thinking", "thinking": "They want it back."},
                {"type": "text", "text": "hello back"},
            ]
        },
        text("second answer"),
    )
    services: Services = server.app[SERVICES]
    seen: list[AgentSession] = []

    async def run() -> tuple[AgentSession, AgentSession, LoopJob, list[str]]:
        async def hook(session: AgentSession) -> None:
            seen.append(session)

        unsubscribe = services.supervisor.on_end(hook)
        sub = server.app[BUS].subscribe(["project:999"])
        job = await echo_job(server, "hello", thinking_budget=1024)
        started = await services.supervisor.start(echo_spec(), job)
        ended = await services.supervisor.wait(started.id)
        for _ in range(100):  # hooks run in a task of their own, after the end is announced
            if seen:
                break
            await asyncio.sleep(0.01)
        unsubscribe()
        types = [event.type for event in sub.drain()]
        sub.close()
        return started, ended, job, types

    started, ended, job, types = server.call(run())
    assert started.owner == CONVERSATION and started.agent == "echo" and started.ticket_id is None
    assert ended.status.value == "completed" and ended.summary == "hello back"
    assert ended.tokens_in > 0 and ended.cost_usd > 0  # priced as claude-haiku-4-5
    assert [s.id for s in seen] == [started.id]
    assert types[0] == "agent:started" and types[-1] == "agent:stopped"
    assert "agent:text_delta" in types and "agent:thinking_delta" in types

    request = fake_anthropic.requests[0]
    assert "tools" not in request  # an empty tool set is no tools, not every tool
    assert system_text(request) == "Repeat." and request["thinking"]["budget_tokens"] == 1024
    assert job.result is not None
    history = job.result.messages
    assert history[0] == {"role": "user", "content": "hello"}
    thinking = history[1]["content"][0]
    assert thinking["type"] == "thinking" and thinking["signature"] == "sig-0"

    # The returned history continues the conversation, signatures and all.
    async def again() -> str:
        async with await services.models.client() as client:
            reply = await client.reply(
                ModelRequest(model="claude-haiku-4-5", max_tokens=2000, thinking_budget=1024),
                [*history, {"role": "user", "content": "and again"}],
            )
        return reply.text

    assert server.call(again()) == "second answer"
    resent = fake_anthropic.requests[1]["messages"]
    assert resent[1]["content"][0]["signature"] == "sig-0" and len(resent) == 3

    stored = server.call(services.supervisor.transcript(CONVERSATION, started.id))
    kinds = [block["kind"] for block in stored["transcript"]]
    assert kinds == ["prompt", "thinking", "text"]
    assert stored["owner"] == {"kind": "conversation", "id": 7} and stored["agent"] == "echo"


async def test_stop_cap_and_a_busy_owner_apply_to_any_kind(
    server: RunningServer, agent_api: httpx.AsyncClient, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script({**text("slow"), "delay_s": 0.5})
    supervisor = server.app[SERVICES].supervisor

    async def run() -> tuple[str, str, str, AgentSession]:
        job = await echo_job(server, "wait")
        started = await supervisor.start(echo_spec(), job, limit=1)
        problems = []
        for owner, limit in ((CONVERSATION, None), (Owner(OwnerKind.PLAN, 1), 1)):
            try:
                await supervisor.start(echo_spec(owner), await echo_job(server, "x"), limit=limit)
            except Exception as exc:  # the 409 and the 429
                problems.append(type(exc).__name__)
        stopped = await supervisor.stop(CONVERSATION)
        assert stopped.id == started.id
        return problems[0], problems[1], stopped.status.value, await supervisor.wait(started.id)

    busy, capped, status, waited = server.call(run())
    assert (busy, capped, status) == ("Conflict", "RateLimited", "stopped")
    assert waited.status.value == "stopped" and waited.error == "stopped by a user"


async def test_a_timeout_inside_the_work_is_not_the_sessions_timeout(
    server: RunningServer, agent_api: httpx.AsyncClient
) -> None:
    class SlowNetwork:
        async def started(self, run: Run) -> None:
            return None

        async def run(self, run: Run) -> str:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(1)
            return "unreachable"

        async def ended(self, run: Run, session: AgentSession) -> None:
            return None

    supervisor: Supervisor = server.app[SERVICES].supervisor

    async def run() -> AgentSession:
        started = await supervisor.start(echo_spec(), SlowNetwork())
        return await supervisor.wait(started.id)

    ended = server.call(run())
    assert ended.status.value == "failed" and "TimeoutError" in (ended.error or "")


@pytest.mark.parametrize("kind", [ECHO, AgentKind("reader", READ_ONLY_TOOLS), TICKET])
async def test_the_system_prompt_lists_exactly_the_tools_given(
    server: RunningServer,
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    kind: AgentKind,
) -> None:
    from pathlib import Path

    from codality_server.agent.prompts import tool_section

    fake_anthropic.script(text("done"))
    services = server.app[SERVICES]

    async def run() -> None:
        toolbox = kind.toolbox(ToolContext(worktree=Path(project["path"])))
        system = tool_section("Your tools:", toolbox)
        job = LoopJob(
            await services.models.client(),
            ModelRequest(model="m", max_tokens=100, system=system),
            [{"role": "user", "content": "go"}],
            toolbox,
        )
        started = await services.supervisor.start(echo_spec(kind=kind), job)
        await services.supervisor.wait(started.id)

    server.call(run())
    request = fake_anthropic.requests[0]
    given = [t["name"] for t in request.get("tools", [])]
    lines = system_text(request).splitlines()
    listed = [line[2:].split(":")[0] for line in lines if line[:2] == "- "]
    assert given == listed == [t.name for t in kind.tools]
    if not kind.tools:
        assert "no tools" in system_text(request)


async def test_the_ticket_agents_prompt_lists_its_tools_from_the_toolbox(
    agent_api: httpx.AsyncClient, fake_anthropic: FakeAnthropic, project: dict[str, Any]
) -> None:
    fake_anthropic.script(text("Nothing to do."))
    ticket = await new_ticket(agent_api, project["slug"])
    await agent_api.post(agent_url(project, ticket, "start"))
    await wait_for_end(agent_api, project, ticket)
    request = fake_anthropic.requests[0]
    lines = system_text(request).splitlines()
    listed = [line[2:].split(":")[0] for line in lines if line[:2] == "- "]
    assert [t["name"] for t in request["tools"]] == [t.name for t in TICKET.tools]
    assert set(listed) >= {t.name for t in TICKET.tools}


async def test_one_shot_calls_answer_with_usage_or_fail_with_a_status(
    server: RunningServer,
    api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    models = server.app[SERVICES].models
    with pytest.raises(InvalidInput, match="ANTHROPIC_API_KEY"):
        server.call(models.complete("Name this plan"))

    env = {"ANTHROPIC_API_KEY": "sk-one-shot", "ANTHROPIC_BASE_URL": fake_anthropic.url}
    assert (await api.put("/api/settings/env", json=env)).status_code == 200
    fake_anthropic.script(text("A fine title"), *[overloaded(529)] * 5)
    reply = server.call(models.complete("Name this plan", system="Titles only."))
    assert reply.text == "A fine title" and reply.usage.tokens_out > 0
    assert reply.usage.cost_usd > 0  # fast_model, claude-haiku-4-5, has a price
    assert fake_anthropic.requests[0]["model"] == "claude-haiku-4-5"
    with pytest.raises(Unavailable, match="529 overloaded_error"):
        server.call(models.complete("again"))


async def test_an_exported_key_is_used_when_the_store_has_none(
    api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The auto-started server inherits the CLI's environment.
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-from-the-shell-0123456789")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_anthropic.url)
    rows = {row["name"]: row for row in (await api.get("/api/settings/env")).json()}
    assert rows["ANTHROPIC_API_KEY"]["source"] == "environment"
    assert rows["ANTHROPIC_API_KEY"]["set"] is True
    assert "sk-from-the-shell-0123456789" not in str(rows)
    assert rows["ANTHROPIC_BASE_URL"] == {
        "name": "ANTHROPIC_BASE_URL",
        "set": True,
        "secret": False,
        "value": fake_anthropic.url,
        "source": "environment",
    }

    fake_anthropic.script(text("Used the exported key."))
    ticket = await new_ticket(api, project["slug"])
    assert (await api.post(agent_url(project, ticket, "start"))).status_code == 202
    ended = await wait_for_end(api, project, ticket)
    assert ended["status"] == "completed"
    assert fake_anthropic.headers[0]["Authorization"] == "Bearer sk-from-the-shell-0123456789"

    # A stored value wins over the environment.
    assert (await api.put("/api/settings/env", json={"ANTHROPIC_API_KEY": "sk-stored"})).is_success
    rows = {row["name"]: row for row in (await api.get("/api/settings/env")).json()}
    assert rows["ANTHROPIC_API_KEY"]["source"] == "store"
    assert rows["ANTHROPIC_BASE_URL"]["source"] == "environment"


async def test_an_entry_is_stored_before_its_event_goes_out(
    server: RunningServer,
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
) -> None:
    """So a viewer that reads the transcript and then follows the events after its
    ``last_event_id`` never misses a tool call (``ticket watch`` used to hang on one)."""
    import sqlite3

    from .conftest import agent_url, new_ticket, wait_for_end

    fake_anthropic.script(tool("list_directory", path="."), text("Done."))
    stored_at_publish: list[tuple[str, bool]] = []
    bus = server.app[BUS]

    def watch() -> Any:
        sub = bus.subscribe()
        offer = sub.offer

        def checked(event: Any) -> None:
            kind = event.type.removeprefix("agent:")
            if kind in ("tool_call", "tool_result", "prompt"):
                with sqlite3.connect(server.settings.db_path) as db:
                    found = db.execute(
                        "SELECT count(*) FROM transcript_blocks WHERE session_id = ? AND kind = ?",
                        (event.data["session_id"], kind),
                    ).fetchone()[0]
                stored_at_publish.append((kind, found > 0))
            offer(event)

        sub.offer = checked
        return sub

    async def subscribe() -> Any:
        return watch()

    sub = server.call(subscribe())
    ticket = await new_ticket(agent_api, project["slug"])
    await agent_api.post(agent_url(project, ticket, "start"))
    await wait_for_end(agent_api, project, ticket)
    sub.close()
    assert [kind for kind, _ in stored_at_publish] == ["prompt", "tool_call", "tool_result"]
    assert all(stored for _, stored in stored_at_publish), stored_at_publish
