"""Full agent runs over HTTP: the real SDK against the fake model, real tools, real git."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from tests.conftest import (
    RunningServer,
    assert_error,
    bearer_client,
    create_project,
    git,
    sign_in,
    spawn_server,
)
from tests.fakes.anthropic_server import FakeAnthropic, system_text, text, tool

from .conftest import agent_url, new_ticket, replay_events, wait_for_end

FAREWELL = "def farewell(name):\n    return f'goodbye {name}'\n"


async def test_a_full_run_edits_tests_commits_and_moves_the_ticket(
    server: RunningServer,
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    git_repo: Path,
) -> None:
    fake_anthropic.script(
        tool(
            "memory", say="Let me get my bearings.", thinking="Start with memory.", topic="overview"
        ),
        tool("read_file", path="src/app.py"),
        tool(
            "edit_file",
            path="src/app.py",
            old_text="def greet(name):",
            new_text=FAREWELL + "\n\ndef greet(name):",
        ),
        tool(
            "bash",
            command='python3 -c \'import sys; sys.path.insert(0, "src"); '
            'import app; print(app.farewell("Bob"))\'',
        ),
        text("Added `farewell` and checked it prints goodbye Bob."),
    )
    ticket = await new_ticket(agent_api, project["slug"], kind="feature")
    started = await agent_api.post(
        agent_url(project, ticket, "start"), json={"message": "Be brief"}
    )
    assert started.status_code == 202, started.text
    session = started.json()
    assert session["status"] == "running" and session["trigger"] == "manual"
    assert session["model"] == "claude-sonnet-4-6"

    ended = await wait_for_end(agent_api, project, ticket)
    assert ended["status"] == "completed", ended
    assert ended["summary"] == "Added `farewell` and checked it prints goodbye Bob."
    assert ended["tokens_in"] > 0 and ended["tokens_out"] > 0 and ended["cost_usd"] > 0

    shown = (
        await agent_api.get(f"/api/projects/{project['slug']}/tickets/{ticket['number']}")
    ).json()
    assert shown["status"] == "in_review" and shown["agent_status"] == "completed"
    assert shown["agent_cost_usd"] == round(ended["cost_usd"], 6)
    worktree = Path(shown["worktree_path"])
    assert shown["branch"] == "codality/1-add-a-farewell-function"
    assert str(worktree) in git(git_repo, "worktree", "list")
    assert git(worktree, "status", "--porcelain") == ""
    log = git(worktree, "log", "-1", "--format=%an <%ae>%n%s%n%b")
    assert log.startswith("Admin <admin@example.com>\nAdd a farewell function [codality-1]\n")
    assert "goodbye Bob" in log
    assert "def farewell" in git(git_repo, "show", f"{shown['branch']}:src/app.py")
    assert "def farewell" not in (git_repo / "src" / "app.py").read_text()  # main untouched

    # What the model saw: system prompt, tools, first message, tool results.
    first = fake_anthropic.requests[0]
    assert "Codality" in system_text(first) and "Ticket kind: Feature" in system_text(first)
    assert {t["name"] for t in first["tools"]} >= {
        "bash",
        "read_file",
        "write_file",
        "edit_file",
        "grep",
        "list_directory",
        "get_ticket",
        "search_tickets",
        "memory",
    }
    # The first message goes as one text block, marked as the end of the prefix to cache.
    [prompt] = first["messages"][0]["content"]
    assert prompt["cache_control"] == {"type": "ephemeral"}
    assert "We need `farewell(name)`." in prompt["text"] and "Be brief" in prompt["text"]
    assert first["thinking"]["type"] == "enabled"
    assert fake_anthropic.headers[0]["Authorization"] == "Bearer sk-test-key"
    read_result = fake_anthropic.requests[2]["messages"][-1]["content"][0]
    assert read_result["type"] == "tool_result" and "def greet" in read_result["content"]
    bash_result = fake_anthropic.requests[4]["messages"][-1]["content"][0]
    assert bash_result["content"].strip() == "goodbye Bob" and not bash_result["is_error"]

    # Live events, in order, replayed from the bus over SSE.
    seen = await replay_events(agent_api, ticket)
    types = [e["type"] for e in seen if e["type"].startswith("agent:")]
    assert types[0] == "agent:started" and types[-1] == "agent:stopped"
    assert "agent:thinking_delta" in types and "agent:text_delta" in types
    calls = [e["data"] for e in seen if e["type"] == "agent:tool_call"]
    assert [c["name"] for c in calls] == ["memory", "read_file", "edit_file", "bash"]
    assert calls[2]["input"]["path"] == "src/app.py"
    results = [e["data"] for e in seen if e["type"] == "agent:tool_result"]
    assert all(r["ok"] for r in results) and results[3]["output"].strip() == "goodbye Bob"
    stopped = seen[-1]["data"]
    assert stopped["status"] == "completed" and stopped["usage"]["tokens_out"] > 0

    # The stored transcript has the same story.
    stored = (await agent_api.get(agent_url(project, ticket, f"sessions/{session['id']}"))).json()
    kinds = [b["kind"] for b in stored["transcript"]]
    assert kinds[:2] == ["preparing", "prompt"] and "thinking" in kinds and "commit" in kinds
    assert kinds.count("tool_call") == 4 and kinds.count("tool_result") == 4
    texts = "".join(b["data"]["text"] for b in stored["transcript"] if b["kind"] == "text")
    assert "Let me get my bearings." in texts

    status = (await agent_api.get(agent_url(project, ticket, "status"))).json()
    assert status["running"] is False and [s["id"] for s in status["sessions"]] == [session["id"]]


async def test_start_refusals(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    ticket = await new_ticket(api, project["slug"])
    missing = assert_error(await api.post(agent_url(project, ticket, "start")), 400)
    assert (
        "ANTHROPIC_API_KEY" in missing["message"]
        and "codality settings env-set" in missing["message"]
    )
    assert_error(await api.post(agent_url(project, ticket, "stop")), 409)
    assert_error(await api.post(agent_url(project, ticket, "message"), json={"message": "hi"}), 409)
    assert_error(await api.post(agent_url(project, ticket, "start"), json={"model": 3}), 400)
    assert_error(await api.get(agent_url(project, ticket, "sessions/99")), 404)
    assert_error(await api.get(agent_url(project, {"number": 99}, "status")), 404)
    status = (await api.get(agent_url(project, ticket, "status"))).json()
    assert status == {"running": False, "session": None, "sessions": []}


MB = 1024 * 1024
LEAVE_BEHIND = (
    "truncate -s 1536M big.bin && head -c 11M /dev/urandom > over.bin"
    " && truncate -s 300M src/empty.py && echo kept > small.txt"
)


def high_water_kb(pid: int) -> int:
    """A live process's own peak RSS (``VmHWM``; ``ru_maxrss`` would include its forker's)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))


@pytest.mark.parametrize("backend", ["git", "dulwich"])
@pytest.mark.parametrize("max_file_mb", [10, 1000], ids=["capped", "control-within-the-cap"])
async def test_what_the_agent_leaves_behind_is_left_out_unread(
    backend: str,
    max_file_mb: int,
    tmp_path: Path,
    git_repo: Path,
    fake_anthropic: FakeAnthropic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Attack 6, on a server process of its own: the agent leaves 1.5 GB of holes, an 11 MB
    file and a tracked empty file grown to 300 MB of holes. Above the cap (10 MB) none is read,
    by the server or by the git it runs, whose peaks are measured; the commit keeps only the
    small file and the agent is told. The control raises the cap to 1,000 MB: then the 300 MB
    file is read and committed, and the same measures see it."""
    if backend == "dulwich":
        monkeypatch.setenv("CODALITY_NO_GIT_CLI", "1")
    (git_repo / "src" / "empty.py").write_text("")  # its index entry has size 0: git rereads it
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "an empty module")
    data_dir = tmp_path / "own-data"
    data_dir.mkdir(mode=0o700)
    peak_file = tmp_path / "descendants-peak"
    proc, url = spawn_server(data_dir, descendants_peak=peak_file)
    try:
        token = sign_in(SimpleNamespace(url=url, data_dir=data_dir))  # type: ignore[arg-type]
        async with bearer_client(url, token) as api:
            env = {"ANTHROPIC_API_KEY": "sk-test-key", "ANTHROPIC_BASE_URL": fake_anthropic.url}
            assert (await api.put("/api/settings/env", json=env)).is_success
            capped = await api.put("/api/settings", json={"max_file_mb": max_file_mb})
            assert capped.is_success, capped.text
            project = await create_project(api, git_repo)
            fake_anthropic.script(tool("bash", command=LEAVE_BEHIND), text("Done."))
            ticket = await new_ticket(api, project["slug"])
            started = await api.post(agent_url(project, ticket, "start"), json={})
            assert started.status_code == 202, started.text

            ended = await wait_for_end(api, project, ticket, timeout=120)

            server = json.loads((data_dir / "server.json").read_text())
            server_peak = high_water_kb(int(server["pid"]))
            transcript = await api.get(agent_url(project, ticket, f"sessions/{ended['id']}"))
    finally:
        proc.terminate()
        proc.wait(30)
    descendants_peak = int(peak_file.read_text())

    assert ended["status"] == "completed", ended
    branch = "codality/1-add-a-farewell-function"
    files = git(git_repo, "ls-tree", "-r", "-l", branch)
    sizes = {line.split("\t")[1]: line.split()[3] for line in files.splitlines()}
    said = [b["data"].get("message", "") for b in transcript.json()["transcript"]]
    notes = "\n".join(line for line in said if line.startswith("Left out of the commit"))
    assert sizes["small.txt"] == "5" and "big.bin" not in sizes
    assert "big.bin (1.5 GB): larger than the" in notes, said
    if max_file_mb == 10:
        assert sizes["src/empty.py"] == "0" and "over.bin" not in sizes
        assert "src/empty.py (300.0 MB)" in notes and "over.bin (11.0 MB)" in notes
        assert server_peak < 200 * 1024, f"server peak {server_peak // 1024} MB"
        assert descendants_peak < 200 * 1024, f"git's peak {descendants_peak // 1024} MB"
    else:
        assert sizes["src/empty.py"] == str(300 * MB) and sizes["over.bin"] == str(11 * MB)
        assert descendants_peak > 300 * 1024, f"peak {descendants_peak // 1024} MB"


async def test_start_answers_before_the_worktree_exists_and_the_run_says_it_is_preparing(
    server: RunningServer,
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
) -> None:
    """The repository's lock is held (a merge, say) while the agent starts: the start still
    answers, the model is not asked until the worktree is made, and the run reports it."""
    import asyncio

    from codality_server.http.keys import SERVICES

    fake_anthropic.script(text("Done."))
    ticket = await new_ticket(agent_api, project["slug"])
    lock = server.app[SERVICES].repo_lock(project["path"])
    server.call(lock.acquire())
    try:
        start = agent_api.post(agent_url(project, ticket, "start"), json={})
        started = await asyncio.wait_for(start, 10)
        assert started.status_code == 202, started.text
        url = f"/api/projects/{project['slug']}/tickets/{ticket['number']}"
        shown = (await agent_api.get(url)).json()
        assert shown["status"] == "in_progress" and shown["worktree_path"] is None
        assert fake_anthropic.requests == []
    finally:
        assert server.loop is not None
        server.loop.call_soon_threadsafe(lock.release)

    ended = await wait_for_end(agent_api, project, ticket)

    assert ended["status"] == "completed", ended
    seen = [e for e in await replay_events(agent_api, ticket) if e["type"].startswith("agent:")]
    types = [e["type"] for e in seen]
    assert types[:3] == ["agent:started", "agent:preparing", "agent:preparing"], types
    assert seen[1]["data"] == {
        "session_id": ended["id"],
        "step": "preparing the worktree",
        "done": False,
    }
    assert seen[2]["data"]["done"] and seen[2]["data"]["step"].startswith("worktree ready in ")
    stored = (await agent_api.get(agent_url(project, ticket, f"sessions/{ended['id']}"))).json()
    kinds = [block["kind"] for block in stored["transcript"]]
    assert kinds.index("preparing") < kinds.index("text")


@pytest.mark.parametrize("watch", ["watched", "gave up"])
async def test_a_run_that_reshapes_the_tree_commits_what_git_add_all_would(
    watch: str,
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The run's commit is told what changed by its inotify watch (bash in the sandbox moving a
    folder, deleting a file, writing in new nested folders); a watch that gives up (here: more
    folders than it may hold) makes the commit compare every file, with the same result."""
    if watch == "gave up":
        from codality_server.git import watch as watch_module

        monkeypatch.setattr(watch_module, "MAX_FOLDERS", 1)
    fake_anthropic.script(
        tool(
            "bash",
            command="mv src lib && rm README.md && mkdir -p pkg/deep/er"
            " && printf 'X = 1\\n' > pkg/deep/er/new.py && chmod +x pkg/deep/er/new.py",
        ),
        text("Moved the sources and added a module."),
    )
    ticket = await new_ticket(agent_api, project["slug"], kind="feature")
    started = await agent_api.post(agent_url(project, ticket, "start"), json={})
    assert started.status_code == 202, started.text
    ended = await wait_for_end(agent_api, project, ticket)
    assert ended["status"] == "completed", ended

    shown = (
        await agent_api.get(f"/api/projects/{project['slug']}/tickets/{ticket['number']}")
    ).json()
    worktree = Path(shown["worktree_path"])
    assert git(worktree, "status", "--porcelain", "--untracked-files=all") == ""
    tree = git(worktree, "ls-tree", "-r", "--format=%(objectmode) %(path)", "HEAD").splitlines()
    assert sorted(tree) == [
        "100644 lib/app.py",
        "100644 lib/util.py",
        "100755 pkg/deep/er/new.py",
    ]
