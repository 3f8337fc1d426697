"""Work queues running: the real SDK against the fake model, real git, the real server.

Each test runs tickets through a queue and checks the queue's state, its items, the sessions
that ran (trigger ``queue``), the events on the project channel and what git holds.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import httpx

from codality_server.db.dependencies import add_dependencies
from codality_server.domain.sessions import call_cost, dollars
from codality_server.domain.settings import Settings
from codality_server.http.keys import BUS, SERVICES
from tests.conftest import RunningServer, assert_error, git
from tests.fakes.anthropic_server import FakeAnthropic, text, tool

from .conftest import agent_url, billed, new_ticket, project_events, wait_for_block

FINISHED = {"completed", "paused", "cancelled"}


def queues_url(project: dict[str, Any], *rest: object) -> str:
    return "/".join([f"/api/projects/{project['slug']}/discover/queues", *map(str, rest)])


async def file_tickets(api: httpx.AsyncClient, project: dict[str, Any], count: int) -> None:
    for number in range(1, count + 1):
        await new_ticket(api, project["slug"], title=f"Ticket {number}")


async def make_queue(
    api: httpx.AsyncClient, project: dict[str, Any], tickets: list[int], **body: Any
) -> dict[str, Any]:
    made = await api.post(
        queues_url(project), json={"name": "Night run", "tickets": tickets, **body}
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


async def start(api: httpx.AsyncClient, project: dict[str, Any], queue: dict[str, Any]) -> Any:
    started = await api.post(queues_url(project, queue["id"], "start"))
    assert started.status_code == 200, started.text
    return started.json()


async def wait_for_queue(
    api: httpx.AsyncClient,
    project: dict[str, Any],
    queue: dict[str, Any],
    statuses: set[str] = FINISHED,
    timeout: float = 60,
) -> dict[str, Any]:
    """Poll the queue until its status is one of ``statuses``; returns it."""
    async with asyncio.timeout(timeout):
        while True:
            shown = (await api.get(queues_url(project, queue["id"]))).json()
            if shown["status"] in statuses:
                return dict(shown)
            await asyncio.sleep(0.05)


async def wait_for_item(
    api: httpx.AsyncClient,
    project: dict[str, Any],
    queue: dict[str, Any],
    number: int,
    status: str = "running",
) -> dict[str, Any]:
    """Poll until the item of ticket ``number`` has ``status`` (and, running, its session)."""
    async with asyncio.timeout(30):
        while True:
            shown = (await api.get(queues_url(project, queue["id"]))).json()
            item = next(i for i in shown["items"] if i["ticket"] == number)
            if item["status"] == status and (status != "running" or item["session"]):
                return dict(item)
            await asyncio.sleep(0.05)


def states(queue: dict[str, Any]) -> list[tuple[int, str]]:
    return [(item["ticket"], item["status"]) for item in queue["items"]]


async def ticket_of(api: httpx.AsyncClient, project: dict[str, Any], number: int) -> Any:
    return (await api.get(f"/api/projects/{project['slug']}/tickets/{number}")).json()


def write(path: str, content: str, say: str) -> list[dict[str, Any]]:
    """A ticket's run: write one file, then say so."""
    return [tool("write_file", path=path, content=content), text(say)]


async def test_three_tickets_run_in_order_to_completion(
    server: RunningServer,
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    git_repo: Path,
) -> None:
    fake_anthropic.script(
        *write("one.txt", "1\n", "Wrote one."),
        *write("two.txt", "2\n", "Wrote two."),
        *write("three.txt", "3\n", "Wrote three."),
    )
    await file_tickets(agent_api, project, 3)
    queue = await make_queue(agent_api, project, [1, 2, 3])
    before = server.app[BUS].last_id
    started = await start(agent_api, project, queue)
    assert started["status"] == "running"
    assert states(started)[0] == (1, "running") and started["items"][0]["session"]

    done = await wait_for_queue(agent_api, project, queue)
    assert done["status"] == "completed", done
    assert states(done) == [(1, "done"), (2, "done"), (3, "done")]
    assert done["reason"] is None and done["ended_at"] and done["started_at"]
    assert done["progress"]["done"] == 3

    events = await project_events(agent_api, project, before, until="queue:completed")
    queue_events = [e for e in events if e["type"].startswith("queue:")]
    assert [e["type"] for e in queue_events] == [
        "queue:started",
        "queue:advanced",
        "queue:advanced",
        "queue:completed",
    ]
    sessions = [item["session"] for item in done["items"]]
    assert [e["data"]["item"]["ticket"] for e in queue_events] == [1, 2, 3, 3]
    assert [e["data"]["session"]["id"] for e in queue_events] == [*sessions, sessions[2]]
    assert [e["data"]["previous"]["ticket"] for e in queue_events[1:3]] == [1, 2]
    assert queue_events[-1]["data"]["queue"]["status"] == "completed"
    # Each session ended before the next started.
    stops = [e["data"]["id"] for e in events if e["type"] == "agent:stopped"]
    assert stops == sessions

    for number, name in ((1, "one.txt"), (2, "two.txt"), (3, "three.txt")):
        ticket = await ticket_of(agent_api, project, number)
        assert ticket["status"] == "in_review" and ticket["agent_status"] == "completed"
        status = (await agent_api.get(agent_url(project, ticket, "status"))).json()
        assert status["session"]["trigger"] == "queue"
        assert git(git_repo, "show", f"{ticket['branch']}:{name}") == f"{number}\n"
    first_prompt = fake_anthropic.requests[0]["messages"][0]["content"]
    assert "ticket 1 of 3 in the work queue 'Night run'" in str(first_prompt)


async def test_a_failing_item_pauses_the_queue_and_release_then_start_resumes_it(
    agent_api: httpx.AsyncClient, fake_anthropic: FakeAnthropic, project: dict[str, Any]
) -> None:
    broken = {"status": 400, "error_type": "invalid_request_error", "message": "prompt too long"}
    fake_anthropic.script(text("First done."), broken)
    await file_tickets(agent_api, project, 3)
    queue = await make_queue(agent_api, project, [1, 2, 3])
    await start(agent_api, project, queue)

    paused = await wait_for_queue(agent_api, project, queue)
    assert paused["status"] == "paused"
    assert states(paused) == [(1, "done"), (2, "failed"), (3, "pending")]
    assert paused["reason"].startswith("#2 failed: ") and "prompt too long" in paused["reason"]
    failed = paused["items"][1]
    assert failed["error"] == paused["reason"] and failed["ended_at"]
    first_session = paused["items"][0]["session"]
    # Paused is not pending: start refuses; cancel, edits and release work.
    assert (
        "release it"
        in assert_error(await agent_api.post(queues_url(project, queue["id"], "start")), 409)[
            "message"
        ]
    )

    released = (await agent_api.post(queues_url(project, queue["id"], "release"))).json()
    assert released["status"] == "pending" and released["reason"] is None
    assert states(released) == [(1, "done"), (2, "pending"), (3, "pending")]
    assert released["items"][1]["session"] is None and released["items"][1]["error"] is None
    assert_error(await agent_api.post(queues_url(project, queue["id"], "release")), 409)

    fake_anthropic.script(text("Second done."), text("Third done."))
    await start(agent_api, project, queue)
    done = await wait_for_queue(agent_api, project, queue)
    assert done["status"] == "completed"
    assert states(done) == [(1, "done"), (2, "done"), (3, "done")]
    assert done["items"][0]["session"] == first_session  # the done one did not run again


async def test_cancel_stops_the_running_agent(
    server: RunningServer,
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
) -> None:
    fake_anthropic.script(tool("bash", command="sleep 30"))
    await file_tickets(agent_api, project, 2)
    queue = await make_queue(agent_api, project, [1, 2])
    await start(agent_api, project, queue)
    item = await wait_for_item(agent_api, project, queue, 1)
    ticket = await ticket_of(agent_api, project, 1)
    await wait_for_block(agent_api, project, ticket, item["session"], "tool_call")
    before = server.app[BUS].last_id

    cancelled = await agent_api.post(queues_url(project, queue["id"], "cancel"))
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["status"] == "cancelled" and body["reason"] == "cancelled by a user"
    assert states(body) == [(1, "pending"), (2, "pending")]  # stopped, not failed
    assert body["progress"]["failed"] == 0
    assert body["items"][0]["error"] == "stopped: the queue was cancelled"
    status = (await agent_api.get(agent_url(project, ticket, "status"))).json()
    assert status["running"] is False and status["session"]["status"] == "stopped"
    events = await project_events(agent_api, project, before, until="queue:cancelled")
    assert events[-1]["data"]["item"]["ticket"] == 1
    assert_error(await agent_api.post(queues_url(project, queue["id"], "cancel")), 409)
    await asyncio.sleep(0.2)  # the stopped session's end hook has nothing left to change
    shown = (await agent_api.get(queues_url(project, queue["id"]))).json()
    assert shown["status"] == "cancelled" and states(shown) == states(body)
    released = (await agent_api.post(queues_url(project, queue["id"], "release"))).json()
    assert states(released) == [(1, "pending"), (2, "pending")]
    assert (await agent_api.delete(queues_url(project, queue["id"]))).status_code == 204


async def test_merge_each_merges_every_ticket_and_a_conflict_pauses(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    git_repo: Path,
) -> None:
    fake_anthropic.script(
        tool("edit_file", path="src/util.py", old_text="VALUE = 1", new_text="VALUE = 2"),
        text("Value is two."),
        tool("bash", command="sleep 2"),
        tool("write_file", path="src/util.py", content="VALUE = 20\n"),
        text("Value is twenty."),
    )
    await file_tickets(agent_api, project, 2)
    queue = await make_queue(agent_api, project, [1, 2], merge_each=True)
    await start(agent_api, project, queue)

    # While #2 works, someone changes the same line on main.
    item = await wait_for_item(agent_api, project, queue, 2)
    second = await ticket_of(agent_api, project, 2)
    await wait_for_block(agent_api, project, second, item["session"], "tool_call")
    assert (git_repo / "src" / "util.py").read_text() == "VALUE = 2\n"  # #1 merged first
    (git_repo / "src" / "util.py").write_text("VALUE = 3\n")
    git(git_repo, "commit", "-qam", "three on main")

    paused = await wait_for_queue(agent_api, project, queue)
    assert paused["status"] == "paused"
    assert states(paused) == [(1, "done"), (2, "failed")]
    assert paused["reason"].startswith("#2 completed but did not merge")
    assert "src/util.py" in paused["reason"]
    assert (await ticket_of(agent_api, project, 1))["status"] == "done"
    second = await ticket_of(agent_api, project, 2)
    assert second["status"] == "in_review" and second["agent_status"] == "completed"
    assert (git_repo / "src" / "util.py").read_text() == "VALUE = 3\n"

    # The user settles the conflict on the ticket's branch, then releases and starts again.
    worktree = Path(second["worktree_path"])
    merging = subprocess.run(
        ["git", "merge", "-q", "main"], cwd=worktree, capture_output=True, text=True
    )
    assert merging.returncode != 0 and "CONFLICT" in merging.stdout
    (worktree / "src" / "util.py").write_text("VALUE = 23\n")
    git(worktree, "commit", "-qam", "settle the value")
    await agent_api.post(queues_url(project, queue["id"], "release"))
    fake_anthropic.script(text("Nothing more to do."))
    await start(agent_api, project, queue)
    done = await wait_for_queue(agent_api, project, queue)
    assert done["status"] == "completed", done
    assert (await ticket_of(agent_api, project, 2))["status"] == "done"
    assert (git_repo / "src" / "util.py").read_text() == "VALUE = 23\n"
    assert "settle the value" in git(git_repo, "log", "--format=%s", "main")


async def test_dependencies_hold_tickets_back_until_what_they_need_is_done(
    server: RunningServer,
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
) -> None:
    await file_tickets(agent_api, project, 6)
    ids = {t["number"]: t["id"] for t in (await agent_api.get(
        f"/api/projects/{project['slug']}/tickets")).json()}  # fmt: skip

    async def depends(ticket: int, *on: int) -> None:
        async with server.app[SERVICES].core.db.transaction() as conn:
            await add_dependencies(conn, ids[ticket], [ids[n] for n in on])

    for ticket, on in ((1, 3), (4, 6), (5, 6)):
        server.call(depends(ticket, on))

    # #1 waits for #3, which comes later in the queue: #2 and #3 run first, then #1.
    queue = await make_queue(agent_api, project, [1, 2, 3])
    await start(agent_api, project, queue)
    done = await wait_for_queue(agent_api, project, queue)
    assert done["status"] == "completed"
    order = sorted(done["items"], key=lambda item: item["session"])
    assert [item["ticket"] for item in order] == [2, 3, 1]

    # #4 needs #6, which is neither done nor queued: the queue cannot start at all.
    blocked = await make_queue(agent_api, project, [4])
    error = assert_error(await agent_api.post(queues_url(project, blocked["id"], "start")), 409)
    assert "#4 depends on #6" in error["message"]
    assert (await agent_api.get(queues_url(project, blocked["id"]))).json()["status"] == "pending"

    # #2 runs, then #5 would need #6: the queue pauses and says why, #5 never ran.
    later = await make_queue(agent_api, project, [2, 5])
    await start(agent_api, project, later)
    paused = await wait_for_queue(agent_api, project, later)
    assert paused["status"] == "paused" and states(paused) == [(2, "done"), (5, "pending")]
    assert paused["reason"] == (
        "ticket #5 depends on #6, which is not done and is not in this queue"
    )
    assert (await ticket_of(agent_api, project, 5))["agent_status"] is None
    # Once #6 is done (merged elsewhere), #5 may run.
    await agent_api.patch(
        f"/api/projects/{project['slug']}/tickets/6/status", json={"status": "done"}
    )
    await agent_api.post(queues_url(project, later["id"], "release"))
    await start(agent_api, project, later)
    assert (await wait_for_queue(agent_api, project, later))["status"] == "completed"


async def test_two_queues_cannot_hold_the_same_ticket_at_once(
    agent_api: httpx.AsyncClient, fake_anthropic: FakeAnthropic, project: dict[str, Any]
) -> None:
    fake_anthropic.script(tool("bash", command="sleep 1"), text("One done."))
    await file_tickets(agent_api, project, 3)
    first = await make_queue(agent_api, project, [1, 2])
    second = await make_queue(agent_api, project, [2, 3], name="Also two")
    await start(agent_api, project, first)
    # While the first runs, #2 is taken: no new queue with it, no start of the other one.
    error = assert_error(
        await agent_api.post(queues_url(project), json={"name": "Q", "tickets": [3, 2]}), 409
    )
    assert error["message"].startswith("ticket #2 is in queue 'Night run', which is running")
    assert error["ticket"] == 2 and error["queue"] == "Night run"
    error = assert_error(await agent_api.post(queues_url(project, second["id"], "start")), 409)
    assert "ticket #2 is in queue 'Night run'" in error["message"]
    renamed = await agent_api.put(queues_url(project, second["id"]), json={"name": "Two, three"})
    assert renamed.status_code == 200  # the other queue itself may still be edited
    assert (await wait_for_queue(agent_api, project, first))["status"] == "completed"
    # Done in the first queue, #2 is free again.
    await start(agent_api, project, second)
    assert (await wait_for_queue(agent_api, project, second))["status"] == "completed"


async def test_parallel_items_run_side_by_side_within_the_limits(
    server: RunningServer,
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
) -> None:
    slow = {"blocks": [{"type": "text", "text": "Working on it. " * 6}], "delay_s": 0.08}
    fake_anthropic.script(*[slow] * 3)
    await file_tickets(agent_api, project, 3)
    ids = {n: (await ticket_of(agent_api, project, n))["id"] for n in (1, 3)}

    async def three_needs_one() -> None:
        async with server.app[SERVICES].core.db.transaction() as conn:
            await add_dependencies(conn, ids[3], [ids[1]])

    server.call(three_needs_one())
    queue = await make_queue(agent_api, project, [1, 2, 3], max_parallel=2)
    started = await start(agent_api, project, queue)
    assert states(started) == [(1, "running"), (2, "running"), (3, "pending")]
    done = await wait_for_queue(agent_api, project, queue)
    assert done["status"] == "completed"
    one, two, three = done["items"]
    assert one["started_at"] < two["ended_at"] and two["started_at"] < one["ended_at"]
    assert three["started_at"] >= one["ended_at"]  # it waited for #1, its dependency

    # The agent cap wins over max_parallel: with one agent allowed, items wait their turn.
    assert (await agent_api.put("/api/settings", json={"max_concurrent_agents": 1})).is_success
    fake_anthropic.script(*[slow] * 2)
    await file_tickets(agent_api, project, 2)  # tickets #4 and #5 (titles repeat)
    capped = await make_queue(agent_api, project, [4, 5], max_parallel=2, name="Capped")
    started = await start(agent_api, project, capped)
    assert states(started) == [(4, "running"), (5, "pending")]
    done = await wait_for_queue(agent_api, project, capped)
    assert done["status"] == "completed"
    four, five = done["items"]
    assert five["started_at"] >= four["ended_at"]


async def test_edits_while_running_take_effect_at_once(
    agent_api: httpx.AsyncClient, fake_anthropic: FakeAnthropic, project: dict[str, Any]
) -> None:
    slow = {"blocks": [{"type": "text", "text": "Working on it. " * 6}], "delay_s": 0.1}
    fake_anthropic.script(slow, slow, slow)
    await file_tickets(agent_api, project, 3)
    queue = await make_queue(agent_api, project, [1, 2])
    await start(agent_api, project, queue)
    url = queues_url(project, queue["id"])
    # The running ticket stays; room for two more starts #3 (put first) beside #1 at once.
    error = assert_error(await agent_api.put(url, json={"tickets": [2]}), 409)
    assert "#1 is running" in error["message"]
    edited = await agent_api.put(url, json={"tickets": [1, 3, 2], "max_parallel": 2})
    assert edited.status_code == 200, edited.text
    assert states(edited.json()) == [(1, "running"), (3, "running"), (2, "pending")]
    assert_error(await agent_api.delete(url), 409)
    done = await wait_for_queue(agent_api, project, queue)
    assert states(done) == [(1, "done"), (3, "done"), (2, "done")]


async def test_a_queue_stops_at_its_turn_budget_and_will_not_start_past_it(
    agent_api: httpx.AsyncClient, fake_anthropic: FakeAnthropic, project: dict[str, Any]
) -> None:
    """Five model calls for the whole queue: the first ticket takes one, the second is given
    the four left and stops there."""
    assert (await agent_api.put("/api/settings", json={"max_turns_per_queue": 5})).is_success
    endless = [tool("list_directory", path=".") for _ in range(40)]
    fake_anthropic.script(text("First done."), *endless)
    await file_tickets(agent_api, project, 3)
    queue = await make_queue(agent_api, project, [1, 2, 3])
    await start(agent_api, project, queue)

    paused = await wait_for_queue(agent_api, project, queue)

    assert states(paused) == [(1, "done"), (2, "failed"), (3, "pending")]
    assert paused["reason"] == "#2 stopped: budget: 5 turns for the queue"
    assert len(fake_anthropic.requests) == 5

    # Released, the done item's turn still counts: with one turn for the queue, the next start
    # pauses at once.
    assert (await agent_api.put("/api/settings", json={"max_turns_per_queue": 1})).is_success
    assert (await agent_api.post(queues_url(project, queue["id"], "release"))).is_success
    await start(agent_api, project, queue)
    again = await wait_for_queue(agent_api, project, queue)
    assert again["status"] == "paused" and len(fake_anthropic.requests) == 5
    assert again["reason"] == "budget: 1 turn for the queue (used 1)"


async def test_a_queue_stops_at_its_dollar_budget_and_will_not_start_past_it(
    agent_api: httpx.AsyncClient, fake_anthropic: FakeAnthropic, project: dict[str, Any]
) -> None:
    limit = {"max_cost_per_queue_usd": 0.03}
    assert (await agent_api.put("/api/settings", json=limit)).status_code == 200
    endless = [tool("list_directory", path=".") for _ in range(40)]
    fake_anthropic.script(text("First done."), *endless)
    await file_tickets(agent_api, project, 3)
    queue = await make_queue(agent_api, project, [1, 2, 3])
    await start(agent_api, project, queue)

    paused = await wait_for_queue(agent_api, project, queue)
    assert states(paused) == [(1, "done"), (2, "failed"), (3, "pending")]
    assert paused["reason"] == "#2 stopped: budget: $0.03 for the queue"
    costs = []
    for number in (1, 2):
        ticket = await ticket_of(agent_api, project, number)
        status = (await agent_api.get(agent_url(project, ticket, "status"))).json()
        costs.append(status["session"]["cost_usd"])
    # The second run had what the first left, and stopped before the call that would pass it.
    price = Settings().prices["claude-sonnet-4-6"]
    spent = [call_cost(billed([usage]), price) for usage in fake_anthropic.usages]
    assert abs(sum(costs) - sum(spent)) < 1e-5 and len(spent) < 1 + len(endless)
    assert sum(costs) < 0.03 and 0.03 - sum(costs) < min(spent), spent

    # Released, the spent budget still counts for the done item: the next start pauses at once.
    assert (await agent_api.put("/api/settings", json={"max_cost_per_queue_usd": 0.001})).is_success
    assert (await agent_api.post(queues_url(project, queue["id"], "release"))).is_success
    calls = len(fake_anthropic.requests)
    await start(agent_api, project, queue)
    again = await wait_for_queue(agent_api, project, queue)
    assert again["status"] == "paused" and len(fake_anthropic.requests) == calls
    assert again["reason"] == f"budget: $0.0010 for the queue (spent {dollars(costs[0])})"
