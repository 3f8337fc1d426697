"""Long agent runs: prompt caching and the cost as billed, a history that outgrows the context
window, and budgets. The fake model bills like the Messages API (``scripted/billing.py``)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import httpx
import pytest

from codality_server.agent.history import HistoryKeeper
from codality_server.agent.model import Message, ModelClient, ModelRequest, content_blocks
from codality_server.domain.sessions import TokenCounts, call_cost
from codality_server.domain.settings import ModelAccess, Settings
from codality_server.scripted.server import REQUESTS, Turn
from tests.conftest import assert_error, git
from tests.fakes.anthropic_server import FakeAnthropic, text, tool

from .conftest import agent_url, billed, new_ticket, replay_events, wait_for_end

MODULE_LINES = 120


def add_module(repo: Path) -> None:
    """A module of some size for the agent to read over and over, committed."""
    body = "".join(
        f"def step_{i}(value):\n    return value * {i} + {i % 7}  # step {i}\n\n"
        for i in range(MODULE_LINES)
    )
    (repo / "src" / "steps.py").write_text(body)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "add steps")


def long_script(turns: int) -> list[Turn]:
    """``turns`` model calls: reading, grepping and running in turn, then a final answer."""
    calls = [
        tool("read_file", path="src/steps.py"),
        tool("grep", pattern=r"step_\d+"),
        tool("bash", command="python3 -c 'print(sum(range(1000)))'"),
    ]
    script = [calls[i % len(calls)] for i in range(turns - 1)]
    return [*script, text(f"Done after {turns} turns.")]


async def test_a_30_turn_run_reads_most_of_its_input_from_the_cache_and_costs_as_billed(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    git_repo: Path,
) -> None:
    add_module(git_repo)
    fake_anthropic.script(*long_script(30))
    ticket = await new_ticket(agent_api, project["slug"])
    started = await agent_api.post(agent_url(project, ticket, "start"), json={})
    assert started.status_code == 202, started.text
    ended = await wait_for_end(agent_api, project, ticket, timeout=60)
    assert ended["status"] == "completed", ended
    assert ended["summary"] == "Done after 30 turns."

    requests = fake_anthropic.requests
    assert len(requests) == 30 and ended["turns"] == 30
    # The stable prefix and the rolling marks: never more than the API's four per request.
    for request in requests:
        marks = [t for t in request["tools"] if "cache_control" in t]
        marks += [b for b in request["system"] if "cache_control" in b]
        for message in request["messages"]:
            if isinstance(message["content"], list):
                marks += [b for b in message["content"] if "cache_control" in b]
        assert len(marks) == (3 if len(request["messages"]) == 1 else 4)
    assert "cache_control" in requests[-1]["messages"][-1]["content"][-1]

    # What the session recorded is what the API reported, split the way it was billed.
    tokens = billed(fake_anthropic.usages)
    assert ended["tokens_in"] == tokens.input and ended["tokens_out"] == tokens.output
    assert ended["tokens_cache_read"] == tokens.cache_read
    assert ended["tokens_cache_write"] == tokens.cache_write
    assert ended["tokens_uncached"] == tokens.uncached
    share = tokens.cache_read / tokens.input
    assert share >= 0.7, f"only {share:.0%} of the input was read from the cache"

    # The cost is the price table's: cache writes at 1.25x, reads at 0.1x of the input price.
    price = Settings().prices["claude-sonnet-4-6"]
    assert (price.cache_write_per_mtok, price.cache_read_per_mtok) == (3.75, 0.3)
    per_call = [call_cost(billed([usage]), price) for usage in fake_anthropic.usages]
    assert abs(ended["cost_usd"] - sum(per_call)) < 1e-5
    uncached = call_cost(TokenCounts(uncached=tokens.input, output=tokens.output), price)
    assert ended["cost_usd"] < uncached / 2


async def test_a_sessions_turns_are_its_model_calls_and_a_run_that_made_none_shows_0(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
) -> None:
    """The turns of a run are kept with its tokens (``agent_sessions.model_calls``): the status,
    the session and ``agent:stopped`` (itself and its usage) all carry them."""
    fake_anthropic.script(*long_script(4))
    ticket = await new_ticket(agent_api, project["slug"])
    assert (await agent_api.post(agent_url(project, ticket, "start"), json={})).status_code == 202
    ended = await wait_for_end(agent_api, project, ticket)
    assert ended["status"] == "completed" and len(fake_anthropic.requests) == 4
    assert ended["turns"] == 4
    detail = (await agent_api.get(agent_url(project, ticket, f"sessions/{ended['id']}"))).json()
    assert detail["turns"] == 4
    stopped = (await replay_events(agent_api, ticket))[-1]["data"]
    assert stopped["turns"] == stopped["usage"]["turns"] == 4

    # The model refuses the key: the run fails before any call was answered.
    fake_anthropic.script({"status": 401, "error_type": "authentication_error"})
    assert (await agent_api.post(agent_url(project, ticket, "start"), json={})).status_code == 202
    failed = await wait_for_end(agent_api, project, ticket)
    assert failed["status"] == "failed" and len(fake_anthropic.requests) == 5, failed
    status = (await agent_api.get(agent_url(project, ticket, "status"))).json()
    assert [(s["id"], s["turns"]) for s in status["sessions"]] == [
        (failed["id"], 0),
        (ended["id"], 4),
    ]


async def test_a_run_stops_at_its_dollar_budget_from_the_settings_or_its_own(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    git_repo: Path,
) -> None:
    add_module(git_repo)
    changed = await agent_api.put("/api/settings", json={"max_cost_per_run_usd": 0.02})
    assert changed.status_code == 200, changed.text
    fake_anthropic.script(*long_script(40))
    ticket = await new_ticket(agent_api, project["slug"])
    assert (await agent_api.post(agent_url(project, ticket, "start"), json={})).status_code == 202
    ended = await wait_for_end(agent_api, project, ticket, timeout=60)
    assert ended["status"] == "stopped" and ended["error"] == "budget: $0.02", ended
    # It stopped before the call whose input would have passed the budget: never past it, and
    # short of it by less than any call of the run cost.
    price = Settings().prices["claude-sonnet-4-6"]
    spent = [call_cost(billed([usage]), price) for usage in fake_anthropic.usages]
    assert sum(spent) < 0.02 and 0.02 - sum(spent) < min(spent), spent
    assert abs(ended["cost_usd"] - sum(spent)) < 1e-5

    # Live: the reason comes with agent:stopped and as an agent:error line.
    seen = await replay_events(agent_api, ticket)
    stopped = seen[-1]["data"]
    assert stopped["status"] == "stopped" and stopped["error"] == "budget: $0.02"
    errors = [e["data"]["message"] for e in seen if e["type"] == "agent:error"]
    assert errors == ["budget: $0.02"]

    # A run's own budget replaces the settings': here a lower one.
    before = len(fake_anthropic.requests)
    fake_anthropic.script(*long_script(40))
    url = agent_url(project, ticket, "start")
    bad = await agent_api.post(url, json={"max_turns": 0})
    assert_error(bad, 400, "invalid_input")
    own = await agent_api.post(url, json={"max_turns": 2, "max_cost_usd": 5})
    assert own.status_code == 202, own.text
    again = await wait_for_end(agent_api, project, ticket, timeout=60)
    assert again["status"] == "stopped" and again["error"] == "budget: 2 turns"
    assert len(fake_anthropic.requests) == before + 2


@pytest.mark.parametrize(
    ("budget", "stops"), [(0.10, True), (1.0, False)], ids=["stops", "control"]
)
async def test_a_call_whose_input_alone_would_pass_the_dollar_budget_is_not_made(
    budget: float,
    stops: bool,
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    git_repo: Path,
) -> None:
    """The first answer reads a 50 KB file four times: the next call's input alone (~70,000
    tokens: $0.21 at the input price) would pass a $0.10 budget, so that call is not made and
    the run stops at what the first one cost. Checked after the call, as before, it was made
    and the run ended at about twice its budget. The control: with $1 the same run completes."""
    (git_repo / "big.txt").write_text("value = 'a line of some forty characters'\n" * 1_250)
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "a big file")
    read = {"type": "tool_use", "name": "read_file", "input": {"path": "big.txt"}}
    fake_anthropic.script({"blocks": [read] * 4}, text("Read it four times."))
    ticket = await new_ticket(agent_api, project["slug"])
    url = agent_url(project, ticket, "start")
    started = await agent_api.post(url, json={"max_cost_usd": budget})
    assert started.status_code == 202, started.text

    ended = await wait_for_end(agent_api, project, ticket, timeout=60)

    price = Settings().prices["claude-sonnet-4-6"]
    spent = [call_cost(billed([usage]), price) for usage in fake_anthropic.usages]
    if stops:
        assert ended["status"] == "stopped" and ended["error"] == "budget: $0.10", ended
        assert len(spent) == 1 and ended["cost_usd"] < 0.10
    else:
        assert ended["status"] == "completed", ended
        assert len(spent) == 2 and 0.10 < sum(spent) < 1.0, spent  # what $0.10 would not pay


def exchanges(count: int, result_chars: int = 0, input_chars: int = 0) -> list[Message]:
    """A task, then ``count`` tool calls (inputs of ``input_chars``) with their results (of
    ``result_chars``)."""
    history: list[Message] = [{"role": "user", "content": "Write the step modules."}]
    for i in range(count):
        call = {"path": f"step_{i}.py", "content": "x" * input_chars}
        history.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": f"Step {i}."},
                    {"type": "tool_use", "id": f"t{i}", "name": "write_file", "input": call},
                ],
            }
        )
        result = {"type": "tool_result", "tool_use_id": f"t{i}", "content": "y" * result_chars}
        history.append({"role": "user", "content": [result]})
    return history


def assert_well_formed(history: list[Message]) -> None:
    """Roles alternate from the user's, and every tool result answers the message before it."""
    assert [m["role"] for m in history] == ["user", "assistant"] * (len(history) // 2) + (
        ["user"] if len(history) % 2 else []
    )
    for before, message in itertools.pairwise(history):
        results = {b["tool_use_id"] for b in content_blocks(message) if b["type"] == "tool_result"}
        assert results <= {b["id"] for b in content_blocks(before) if b["type"] == "tool_use"}


async def test_a_history_over_the_window_loses_old_tool_output_first(
    fake_anthropic: FakeAnthropic,
) -> None:
    client = ModelClient(ModelAccess("sk-test", fake_anthropic.url), windows={"big": 30_000})
    keeper = HistoryKeeper(client, ModelRequest("big", 1_000, system="Work."), 30_000)
    history = exchanges(40, result_chars=3_000)
    assert keeper.tokens(history) > keeper.fits
    assert await keeper.fit(history[:10]) is None  # what fits is left alone

    async with client:
        trim = await keeper.fit(history)
    assert trim is not None and fake_anthropic.requests == []  # no summary was needed
    assert trim.tokens_before > keeper.fits and trim.tokens_after <= keeper.target
    cleared = [
        b
        for m in trim.messages[1:]
        for b in m["content"]
        if "output cleared" in str(b.get("content"))
    ]
    assert (
        trim.note
        == f"to fit the context window, cleared the output of {len(cleared)} old tool calls"
    )
    # Oldest first, in one large step (not one block per turn), the newest exchanges untouched.
    assert 10 < len(cleared) < 40
    assert "output cleared" in str(trim.messages[2]["content"])
    assert trim.messages[-4:] == history[-4:]
    assert_well_formed(trim.messages)


async def test_a_history_still_too_long_is_summarised_by_the_fast_model(
    fake_anthropic: FakeAnthropic,
) -> None:
    access = ModelAccess("sk-test", fake_anthropic.url)
    client = ModelClient(access, windows={"big": 30_000}, fast_model="fast")
    keeper = HistoryKeeper(client, ModelRequest("big", 1_000, system="Work."), 30_000)
    history = exchanges(40, input_chars=3_000)  # big calls: clearing results cannot help
    fake_anthropic.script_model("fast", text("Wrote step_0.py to step_30.py; all passed."))
    async with client:
        trim = await keeper.fit(history)
        assert trim is not None and trim.tokens_after <= keeper.target
        [asked] = fake_anthropic.requests
        assert asked["model"] == "fast" and "tool call write_file" in str(asked["messages"])
        first = trim.messages[0]
        assert first["content"][0] == {"type": "text", "text": "Write the step modules."}
        dropped = len(history) - len(trim.messages)
        summary = first["content"][1]["text"]
        assert f"[{dropped} earlier messages of this run were dropped" in summary
        assert summary.endswith("Wrote step_0.py to step_30.py; all passed.")
        assert trim.messages[-6:] == history[-6:]
        assert trim.note.endswith(f"summarised {dropped} earlier messages")
        assert_well_formed(trim.messages)
        assert keeper.usage is not None and keeper.usage.calls == 1  # its cost goes to the run
        # The cut history is a request the API takes.
        reply = await client.reply(ModelRequest("big", 1_000, system="Work."), trim.messages)
        assert reply.stop_reason == "end_turn"


async def run_over_window(
    api: httpx.AsyncClient, fake: FakeAnthropic, project: dict[str, Any], turns: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A ``turns``-call run on a model with a small window; returns the session and its
    transcript."""
    fake.script(*long_script(turns))
    fake.script_model("claude-haiku-4-5", *[text("Read steps.py and grepped it.")] * 10)
    ticket = await new_ticket(api, project["slug"])
    assert (await api.post(agent_url(project, ticket, "start"), json={})).status_code == 202
    ended = await wait_for_end(api, project, ticket, timeout=90)
    url = agent_url(project, ticket, f"sessions/{ended['id']}")
    return ended, (await api.get(url)).json()["transcript"]


def billed_by_model(fake: FakeAnthropic) -> float:
    """What the fake's answers cost at the default price table, each at its model's price."""
    prices = Settings().prices
    answered = [entry for entry in fake.app[REQUESTS] if "usage" in entry]
    return sum(
        call_cost(billed([entry["usage"]]), prices[entry["body"]["model"]]) for entry in answered
    )


async def test_a_run_that_outgrows_the_window_is_cut_before_the_call_and_completes(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    git_repo: Path,
) -> None:
    add_module(git_repo)
    window = 14_000
    fake_anthropic.cache.window = window
    settings = {"max_tokens": 2_000, "context_windows": {"claude-sonnet-4-6": window}}
    assert (await agent_api.put("/api/settings", json=settings)).status_code == 200
    ended, transcript = await run_over_window(agent_api, fake_anthropic, project, 30)
    assert ended["status"] == "completed" and ended["summary"] == "Done after 30 turns.", ended

    # Cut before any call would have been refused, in large steps, each said in the transcript.
    assert not [entry for entry in fake_anthropic.app[REQUESTS] if "refused" in entry]
    cuts = [b["data"] for b in transcript if b["kind"] == "history_trimmed"]
    assert 1 <= len(cuts) <= 6, cuts
    assert cuts[0]["message"].startswith("to fit the context window, cleared the output of")
    assert all(cut["tokens_after"] <= 0.65 * cut["tokens_before"] for cut in cuts)
    summaries = [r for r in fake_anthropic.requests if r["model"] == "claude-haiku-4-5"]
    assert len(summaries) == sum("summarised" in cut["message"] for cut in cuts)
    assert ended["turns"] == 30 + len(summaries)  # a summary is a model call of the run too
    # The summaries' cost is the run's too, at the fast model's price.
    assert abs(ended["cost_usd"] - billed_by_model(fake_anthropic)) < 1e-5


async def test_a_prompt_too_long_answer_cuts_the_history_and_retries(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    git_repo: Path,
) -> None:
    """The settings think the window is 200k; the model says otherwise with its 400."""
    add_module(git_repo)
    fake_anthropic.cache.window = 14_000
    assert (await agent_api.put("/api/settings", json={"max_tokens": 2_000})).status_code == 200
    ended, transcript = await run_over_window(agent_api, fake_anthropic, project, 30)
    assert ended["status"] == "completed" and ended["summary"] == "Done after 30 turns.", ended

    refused = [entry for entry in fake_anthropic.app[REQUESTS] if "refused" in entry]
    assert len(refused) == 1  # then the window it named was kept to
    assert refused[0]["refused"].startswith("prompt is too long: ")
    assert refused[0]["refused"].endswith(" tokens > 14000 maximum")
    kinds = [b["kind"] for b in transcript]
    assert "history_trimmed" in kinds and "error" not in kinds
    events = await replay_events(agent_api, {"id": ended["ticket_id"]})
    cut = next(e["data"] for e in events if e["type"] == "agent:history_trimmed")
    assert cut["message"].startswith("to fit the context window, ")
