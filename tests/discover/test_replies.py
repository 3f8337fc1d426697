"""Discovery replies from the real anthropic SDK against the scripted Messages server.

The reply runs on the platform's supervisor and loop; these tests check what discovery adds:
the ``discover:*`` events on the wire, the reply stored block by block, proposals from the
model's tool calls (valid ones stored as pending actions, malformed ones refused to the model),
the read-only tools on the default branch, one reply at a time, cancelling, the whole
conversation as context (trimmed with a note), and the title from the fast model.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from codality_server.agent.model import CACHE_MARK
from codality_server.http.keys import SERVICES
from codality_server.services.agent_sessions import AgentSessionService, Usage
from codality_server.services.discover_agent import owner
from tests.conftest import RunningServer, assert_error, create_ticket, git
from tests.discover.test_conversations import new_conversation, url
from tests.fakes.anthropic_server import FakeAnthropic, text, tool, unchecked

FAST_MODEL = "claude-haiku-4-5"  # the settings' default fast model, which names conversations


async def events_after(
    api: httpx.AsyncClient, project: dict[str, Any], after: int, until: str = "discover:message"
) -> list[dict[str, Any]]:
    """The project's events after id ``after`` (replayed over the real SSE), up to ``until``."""
    found: list[dict[str, Any]] = []
    headers = {"Last-Event-ID": str(after)}
    params = {"channel": f"project:{project['id']}"}
    async with asyncio.timeout(20):
        async with api.stream("GET", "/api/events", params=params, headers=headers) as stream:
            async for line in stream.aiter_lines():
                if line.startswith("data: "):
                    event = json.loads(line.removeprefix("data: "))
                    found.append(event)
                    if event["type"] == until:
                        return found
    raise AssertionError(f"no {until} event")


async def send(
    api: httpx.AsyncClient,
    project: dict[str, Any],
    conversation: dict[str, Any],
    content: str,
    wait: bool = False,
) -> httpx.Response:
    return await api.post(
        url(project, f"/{conversation['id']}/messages"),
        json={"content": content},
        params={"wait": "true"} if wait else None,
    )


async def finished(
    api: httpx.AsyncClient, project: dict[str, Any], conversation: dict[str, Any]
) -> dict[str, Any]:
    """The conversation once no reply is being written."""
    async with asyncio.timeout(20):
        while True:
            shown = (await api.get(url(project, f"/{conversation['id']}"))).json()
            if not shown["streaming"]:
                return dict(shown)
            await asyncio.sleep(0.05)


async def test_a_streamed_reply_with_tool_use(
    server: RunningServer,
    agent_api: httpx.AsyncClient,
    project: dict[str, Any],
    fake_anthropic: FakeAnthropic,
) -> None:
    fake_anthropic.script(
        tool("read_file", say="Let me read the app.", path="src/app.py"),
        text("It greets people by name."),
    )
    # The title comes from the fast model, at a time of its own: apart from the reply's turns.
    fake_anthropic.script_model(FAST_MODEL, tool("give_title", title="Greeting code"))
    conversation = await new_conversation(agent_api, project)
    response = await send(agent_api, project, conversation, "What does the app do?")
    assert response.status_code == 202, response.text
    sent = response.json()
    events = await events_after(agent_api, project, sent["last_event_id"])
    ours = [e for e in events if e["type"].startswith("discover:")]
    deltas = "".join(e["data"]["text"] for e in ours if e["type"] == "discover:delta")
    assert deltas == "Let me read the app.It greets people by name."
    calls = [e["data"] for e in ours if e["type"] == "discover:tool_call"]
    assert [(c["name"], c["input"]) for c in calls] == [("read_file", {"path": "src/app.py"})]
    reply = ours[-1]["data"]["message"]
    assert reply["id"] == sent["reply_id"] and reply["status"] == "complete"
    assert reply["content"] == "Let me read the app.It greets people by name."
    kinds = [b["kind"] for b in reply["blocks"]]
    assert kinds == ["text", "tool_call", "tool_result", "text"]
    assert "def greet" in reply["blocks"][2]["data"]["output"]
    assert reply["tokens_in"] > 0 and reply["tokens_out"] > 0
    # The reply's blocks are its session's transcript (the one store of every session kind),
    # and its usage the session's.
    session = server.call(
        server.app[SERVICES].agent_sessions.with_transcript(
            owner(conversation["id"]), reply["session_id"], 0
        )
    )
    assert session["transcript"] == reply["blocks"]
    usage = (session["tokens_in"], session["tokens_out"], session["cost_usd"])
    assert usage == (reply["tokens_in"], reply["tokens_out"], reply["cost_usd"])

    first, second = [r for r in fake_anthropic.requests if "tool_choice" not in r]  # not the title
    tools = {t["name"] for t in first["tools"]}
    assert tools == {
        "read_file",
        "grep",
        "list_directory",
        "get_ticket",
        "search_tickets",
        "propose_tickets",
        "propose_plan",
        "propose_queue",
        "propose_ticket_update",
    }
    question = {"type": "text", "text": "What does the app do?", "cache_control": CACHE_MARK}
    assert first["messages"] == [{"role": "user", "content": [question]}]
    assert second["messages"][-1]["content"][0]["type"] == "tool_result"

    shown = await finished(agent_api, project, conversation)
    assert [m["role"] for m in shown["messages"]] == ["user", "assistant"]
    async with asyncio.timeout(10):
        while (await agent_api.get(url(project, f"/{conversation['id']}"))).json()["title"] != (
            "Greeting code"
        ):
            await asyncio.sleep(0.05)


async def test_wait_answers_the_finished_reply_and_the_conversation_is_the_context(
    agent_api: httpx.AsyncClient, project: dict[str, Any], fake_anthropic: FakeAnthropic
) -> None:
    conversation = await new_conversation(agent_api, project, "Named already")
    fake_anthropic.script(text("First answer."), text("Second answer."))
    one = await send(agent_api, project, conversation, "First question", wait=True)
    assert one.status_code == 200, one.text
    assert one.json()["content"] == "First answer." and one.json()["status"] == "complete"
    two = await send(agent_api, project, conversation, "Second question", wait=True)
    assert two.json()["content"] == "Second answer."
    context = fake_anthropic.requests[-1]["messages"]
    assert [m["role"] for m in context] == ["user", "assistant", "user"]
    assert context[1]["content"] == [{"type": "text", "text": "First answer."}]
    shown = (await agent_api.get(url(project, f"/{conversation['id']}"))).json()
    assert shown["title"] == "Named already"  # a given title is kept
    assert len(fake_anthropic.requests) == 2  # and no title was asked for


async def test_the_context_is_trimmed_from_the_oldest_turns_with_a_note(
    server: RunningServer,
    agent_api: httpx.AsyncClient,
    project: dict[str, Any],
    fake_anthropic: FakeAnthropic,
) -> None:
    server.app[SERVICES].discover_agent.context_budget_chars = 600
    conversation = await new_conversation(agent_api, project, "Long")
    fake_anthropic.script(text("a" * 400), text("b" * 400), text("done"))
    for question in ("one", "two", "three"):
        assert (await send(agent_api, project, conversation, question, wait=True)).is_success
    context = fake_anthropic.requests[-1]["messages"]
    assert "left out" in context[0]["content"][0]["text"]
    assert context[-1]["content"][-1]["text"] == "three"
    assert all(block.get("text") != "one" for m in context for block in m["content"])


async def test_proposals_from_the_model_are_stored_pending_and_a_malformed_one_is_refused(
    agent_api: httpx.AsyncClient, project: dict[str, Any], fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(
        unchecked(
            tool("propose_tickets", say="Two steps.", tickets=[{"title": "A"}, {"title": ""}])
        ),
        tool(
            "propose_tickets", tickets=[{"title": "Add SSO"}, {"title": "Docs", "depends_on": [1]}]
        ),
        text("Confirm them when ready."),
    )
    conversation = await new_conversation(agent_api, project, "SSO")
    reply = (await send(agent_api, project, conversation, "Plan SSO", wait=True)).json()
    results = [b["data"] for b in reply["blocks"] if b["kind"] == "tool_result"]
    assert [r["ok"] for r in results] == [False, True]
    assert "tickets.1.title" in results[0]["output"]
    refused = fake_anthropic.requests[1]["messages"][-1]["content"][0]
    assert refused["is_error"] is True and "tickets.1.title" in refused["content"]
    [action] = reply["actions"]
    assert action["status"] == "pending" and action["kind"] == "tickets"
    assert "action_id" not in results[0] and results[1]["action_id"] == action["id"]
    assert [b["kind"] for b in reply["blocks"]].count("action") == 1
    assert (await agent_api.get(f"/api/projects/{project['slug']}/tickets")).json() == []
    decided = await agent_api.post(
        url(project, f"/{conversation['id']}/actions/{action['id']}"), json={"decision": "confirm"}
    )
    assert [t["number"] for t in decided.json()["result"]["tickets"]] == [1, 2]
    # The next turn tells the model how the user decided.
    fake_anthropic.script(text("Good."))
    await send(agent_api, project, conversation, "Done", wait=True)
    results = [
        block
        for message in fake_anthropic.requests[-1]["messages"]
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]
    assert "confirmed proposal" in results[-1]["content"]


async def test_a_second_message_while_a_reply_streams_is_a_409_and_cancel_ends_it(
    agent_api: httpx.AsyncClient, project: dict[str, Any], fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(text("word " * 200, delay_s=0.02), text("After the cancel."))
    conversation = await new_conversation(agent_api, project, "Busy")
    assert (await send(agent_api, project, conversation, "Talk a lot")).status_code == 202
    while not fake_anthropic.requests:  # cancelled before it asked, the reply uses no answer
        await asyncio.sleep(0.01)
    busy = await send(agent_api, project, conversation, "Another")
    assert_error(busy, 409, "conflict")
    cancel_url = url(project, f"/{conversation['id']}/cancel")
    assert (await agent_api.post(cancel_url)).status_code == 200
    shown = await finished(agent_api, project, conversation)
    assert [m["role"] for m in shown["messages"]] == ["user", "assistant"]
    assert shown["messages"][1]["status"] == "cancelled"
    assert_error(await agent_api.post(cancel_url), 409)
    again = await send(agent_api, project, conversation, "Go on", wait=True)
    assert again.json()["content"] == "After the cancel."
    context = fake_anthropic.requests[-1]["messages"]
    assert "cancelled" in json.dumps(context[1]["content"])


async def test_the_tools_read_the_default_branch_not_the_working_tree(
    agent_api: httpx.AsyncClient,
    project: dict[str, Any],
    fake_anthropic: FakeAnthropic,
    git_repo: Path,
) -> None:
    git(git_repo, "checkout", "-q", "-b", "elsewhere")
    (git_repo / "src" / "app.py").write_text("OTHER BRANCH\n")
    git(git_repo, "commit", "-qam", "elsewhere")
    (git_repo / "scratch.txt").write_text("uncommitted\n")
    await create_ticket(agent_api, project["slug"], title="Known ticket")
    fake_anthropic.script(
        tool("read_file", path="src/app.py"),
        tool("list_directory", path="."),
        tool("get_ticket", number=1),
        unchecked(tool("bash", command="echo hi")),  # not a discovery tool
        text("Read."),
    )
    conversation = await new_conversation(agent_api, project, "Branches")
    reply = (await send(agent_api, project, conversation, "Look", wait=True)).json()
    outputs = [b["data"] for b in reply["blocks"] if b["kind"] == "tool_result"]
    assert "def greet" in outputs[0]["output"] and "OTHER BRANCH" not in outputs[0]["output"]
    assert "scratch.txt" not in outputs[1]["output"] and "README.md" in outputs[1]["output"]
    assert "Known ticket" in outputs[2]["output"]
    assert outputs[3]["ok"] is False  # no shell in discovery


async def test_without_a_key_sending_is_a_400_and_nothing_is_stored(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    conversation = await new_conversation(api, project)
    error = assert_error(await send(api, project, conversation, "hello"), 400)
    assert "ANTHROPIC_API_KEY" in error["message"]
    assert (await api.get(url(project, f"/{conversation['id']}"))).json()["messages"] == []
    assert_error(await send(api, project, conversation, "   "), 400)


@pytest.mark.parametrize("body", [{}, {"content": 5}, {"content": "x", "extra": 1}])
async def test_a_malformed_message_is_a_400(
    api: httpx.AsyncClient, project: dict[str, Any], body: dict[str, Any]
) -> None:
    conversation = await new_conversation(api, project)
    response = await api.post(url(project, f"/{conversation['id']}/messages"), json=body)
    assert_error(response, 400)


async def test_a_conversation_read_mid_reply_and_the_deltas_after_it_make_the_whole_text(
    agent_api: httpx.AsyncClient,
    project: dict[str, Any],
    fake_anthropic: FakeAnthropic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Writes are slowed down here; a reader still gets a stored reply holding every delta
    published before it read, and the deltas after its ``last_event_id`` say where they start
    (``block``, ``at``), so skipping what it has leaves every character once, with no gap."""
    rewrite = AgentSessionService.rewrite

    async def slow_rewrite(
        self: AgentSessionService,
        session_id: int,
        block_id: int,
        data: dict[str, Any],
        usage: Usage | None = None,
    ) -> None:
        await asyncio.sleep(0.5)
        await rewrite(self, session_id, block_id, data, usage)

    monkeypatch.setattr(AgentSessionService, "rewrite", slow_rewrite)
    whole = "".join(f"word{i:03d} " for i in range(120))
    fake_anthropic.script(text(whole, delay_s=0.02), text("Title"))
    conversation = await new_conversation(agent_api, project, "Mid reply")
    assert (await send(agent_api, project, conversation, "Talk")).status_code == 202
    async with asyncio.timeout(20):
        while True:
            shown = (await agent_api.get(url(project, f"/{conversation['id']}"))).json()
            replies = [m for m in shown["messages"] if m["role"] == "assistant"]
            if replies and len(replies[0]["content"]) > 200:
                break
            await asyncio.sleep(0.02)
    assert len(replies[0]["content"]) < len(whole)  # read while it streamed
    later = await events_after(agent_api, project, shown["last_event_id"])
    deltas = [e["data"] for e in later if e["type"] == "discover:delta"]
    (block,) = [b for b in replies[0]["blocks"] if b["kind"] == "text"]
    content = replies[0]["content"]
    for delta in deltas:
        assert delta["block"] == block["id"] and delta["kind"] == "text"
        assert delta["at"] <= len(content)  # nothing published before the read is missing
        content += delta["text"][len(content) - delta["at"] :]
    assert content == whole


async def test_a_replys_thinking_stays_in_its_session_transcript(
    server: RunningServer,
    agent_api: httpx.AsyncClient,
    project: dict[str, Any],
    fake_anthropic: FakeAnthropic,
) -> None:
    """A reply shows what the model says: its thinking is neither published nor a block of the
    message (nor the model's context next time), yet its session's transcript keeps it."""
    fake_anthropic.script(
        tool("read_file", say="Reading.", thinking="Where is greet?", path="src/app.py"),
        text("Found it."),
    )
    fake_anthropic.script_model(FAST_MODEL, tool("give_title", title="Greeting"))
    conversation = await new_conversation(agent_api, project)
    sent = (await send(agent_api, project, conversation, "Where is greet?")).json()
    events = await events_after(agent_api, project, sent["last_event_id"])
    assert [e["type"] for e in events if "thinking" in e["type"]] == []
    reply = events[-1]["data"]["message"]
    assert [b["kind"] for b in reply["blocks"]] == ["text", "tool_call", "tool_result", "text"]
    session = server.call(
        server.app[SERVICES].agent_sessions.with_transcript(
            owner(conversation["id"]), reply["session_id"], 0
        )
    )
    thought, *shown = session["transcript"]
    assert (thought["kind"], thought["data"]["text"]) == ("thinking", "Where is greet?")
    assert shown == reply["blocks"]

    fake_anthropic.script(text("Anything else?"))
    assert (await send(agent_api, project, conversation, "No", wait=True)).is_success
    context = fake_anthropic.requests[-1]["messages"]
    assert [m["role"] for m in context] == ["user", "assistant", "user", "assistant", "user"]
    assert all(block["type"] != "thinking" for m in context for block in m["content"])


@pytest.mark.parametrize(
    "answer",
    ['```json\n{"title": "Greeting code"}\n```', '{"title": "Greeting code."}', "Greeting code"],
)
async def test_a_conversation_title_answered_in_text_is_read_as_json_or_prose(
    agent_api: httpx.AsyncClient,
    project: dict[str, Any],
    fake_anthropic: FakeAnthropic,
    answer: str,
) -> None:
    """A fast model that ignores tool_choice and answers in a fenced block: the title is the
    JSON's, never ``json`` (as a plan's title once was)."""
    fake_anthropic.script(text("It greets people by name."), unchecked(text(answer)))
    conversation = await new_conversation(agent_api, project)
    sent = await send(agent_api, project, conversation, "What does the app do?", wait=True)
    assert sent.status_code == 200, sent.text
    titled = url(project, f"/{conversation['id']}")
    async with asyncio.timeout(10):
        while not (await agent_api.get(titled)).json()["title"]:
            await asyncio.sleep(0.05)
    assert (await agent_api.get(titled)).json()["title"] == "Greeting code"
    assert fake_anthropic.requests[-1]["tool_choice"] == {"type": "tool", "name": "give_title"}
