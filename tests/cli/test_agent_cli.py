"""``codality ticket start|watch|say|stop|status`` against the real server and the fake model."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

from codality_cli.tui.widgets.ticket_card import render_card
from tests.conftest import RunningServer, sign_in, spawn_server
from tests.fakes.anthropic_server import FakeAnthropic, text, tool
from tests.tui.test_connection import free_port

from .conftest import Cli


def file_ticket(cli: Cli, project: dict[str, Any], title: str = "Say hello") -> int:
    made = cli("-p", project["slug"], "ticket", "create", title, "-d", "x", "--json")
    assert made.exit_code == 0, made.stderr
    return int(made.json()["number"])


def test_start_streams_text_to_stdout_and_tools_to_stderr(
    cli: Cli, project: dict[str, Any], fake: FakeAnthropic
) -> None:
    fake.script(
        tool("list_directory", say="Looking around.", thinking="Where to begin?", path="."),
        tool("bash", command="exit 4"),
        text("All done here."),
    )
    number = file_ticket(cli, project)
    run = cli("-p", project["slug"], "ticket", "start", str(number))
    assert run.exit_code == 0, run.stderr
    assert run.stdout == "Looking around.\nAll done here.\n"
    assert "Where to begin?" in run.stderr
    assert "▸ list_directory .  ✓ src/" in run.stderr
    assert "▸ bash exit 4  ✗" in run.stderr and "exit code 4" in run.stderr
    assert "── completed · 3 turns · " in run.stderr and "$0." in run.stderr
    assert " cache read, " in run.stderr  # the input tokens as they were billed
    listed = cli("-p", project["slug"], "ticket", "runs", str(number)).stdout.split("\t")
    shown = cli("-p", project["slug"], "ticket", "runs", str(number), "--json").json()["session"]
    assert shown["tokens_cache_read"] > 0
    assert len(fake.requests) == 3 and shown["turns"] == 3 and listed[5] == "3"
    billed = ("tokens_in", "tokens_cache_read", "tokens_cache_write", "tokens_out")
    assert listed[6:10] == [str(shown[key]) for key in billed]

    quiet = cli("-p", project["slug"], "ticket", "watch", str(number), "--no-thinking")
    assert quiet.exit_code == 0
    assert quiet.stdout == "Looking around.\nAll done here.\n"
    assert "Where to begin?" not in quiet.stderr and "▸ bash exit 4  ✗" in quiet.stderr


def test_an_unsuccessful_session_exits_7(
    cli: Cli, project: dict[str, Any], fake: FakeAnthropic
) -> None:
    fake.script({"blocks": [{"type": "text", "text": "Hm"}], "break_after": 0})
    number = file_ticket(cli, project)
    run = cli("-p", project["slug"], "ticket", "start", str(number))
    assert run.exit_code == 7, (run.stdout, run.stderr)
    assert "── failed · 0 turns · " in run.stderr and "broke off mid-way" in run.stderr
    # No call was answered: 0 turns in the table and in its JSON.
    listed = cli("-p", project["slug"], "ticket", "runs", str(number)).stdout.split("\t")
    shown = cli("-p", project["slug"], "ticket", "runs", str(number), "--json").json()["session"]
    assert (listed[2], listed[5], shown["turns"]) == ("failed", "0", 0)


def test_detach_then_say_watch_status_and_stop(
    cli: Cli, project: dict[str, Any], fake: FakeAnthropic
) -> None:
    fake.script(tool("bash", command="sleep 1.5"), text("Noted your message."))
    slug = project["slug"]
    number = file_ticket(cli, project)
    started = cli("-p", slug, "ticket", "start", str(number), "--detach", "--json")
    assert started.exit_code == 0 and started.json()["status"] == "running"
    said = cli("-p", slug, "ticket", "say", str(number), "Prefer tabs")
    assert said.exit_code == 0 and "steer" in said.stderr
    watched = cli("-p", slug, "ticket", "watch", str(number))
    assert watched.exit_code == 0, watched.stderr
    assert "» you (steer): Prefer tabs" in watched.stderr
    assert watched.stdout.strip() == "Noted your message."
    assert "Prefer tabs" in str(fake.requests[1]["messages"][-1]["content"])

    status = cli("-p", slug, "ticket", "runs", str(number), "--json")
    assert status.json()["running"] is False
    assert status.json()["sessions"][0]["status"] == "completed"
    table = cli("-p", slug, "ticket", "runs", str(number))
    assert "completed" in table.stdout and "not running" in table.stderr
    # Which sandbox ran the commands is in the table and on the run's last line.
    sandbox = status.json()["sessions"][0]["sandbox"]
    assert sandbox in ("bubblewrap", "landlock") and sandbox in table.stdout
    assert f"· sandbox {sandbox}" in watched.stderr

    assert cli("-p", slug, "ticket", "stop", str(number)).exit_code == 6
    assert cli("-p", slug, "ticket", "say", str(number), "hello?").exit_code == 6
    assert cli("-p", slug, "ticket", "watch", "99").exit_code == 3


def test_stop_from_the_cli_ends_a_long_run(
    cli: Cli, project: dict[str, Any], fake: FakeAnthropic
) -> None:
    fake.script(tool("bash", command="sleep 60"))
    slug = project["slug"]
    number = file_ticket(cli, project)
    assert cli("-p", slug, "ticket", "start", str(number), "--detach").exit_code == 0
    import time

    deadline = time.monotonic() + 10
    while not cli("-p", slug, "ticket", "runs", str(number), "--json").json()["running"]:
        assert time.monotonic() < deadline
    time.sleep(0.5)
    stopped = cli("-p", slug, "ticket", "stop", str(number), "--json")
    assert stopped.exit_code == 0 and stopped.json()["status"] == "stopped"
    assert cli("-p", slug, "ticket", "watch", str(number)).exit_code == 7


def test_demo_plans_queues_its_tickets_runs_them_offline_and_shows_the_diffs(
    server: RunningServer, tmp_path: Any
) -> None:
    data_dir = tmp_path / "user-data"
    run = Cli(server, None)("--data-dir", str(data_dir), "demo", server=False)
    assert run.exit_code == 0, run.stderr
    assert "Greetings now end with an exclamation mark" in run.stdout
    assert "Added `farewell(name)`" in run.stdout
    assert '+    return f"Hello, {name}!"' in run.stdout
    assert '+    return f"Goodbye, {name}!"' in run.stdout
    err = run.stderr
    assert "── plan 1: Friendlier greeter" in err
    assert "checked: ready: It says what changes in greeter" in err
    assert "the model split it into 2 ticket drafts; approving the plan" in err
    assert "filed ticket #1: Greet people with an exclamation mark" in err
    assert "filed ticket #2: Say goodbye too" in err
    assert "queued #1 then #2 as work queue 1" in err
    assert err.index("══ #1 Greet people") < err.index("══ #2 Say goodbye too")
    assert err.count("▸ bash python3 -m unittest -v 2>&1  ✓") == 2
    assert err.count("── completed") == 2
    assert "queue 1 'Demo' completed: 2/2 done" in err
    assert (data_dir / "demo" / "sample-repo" / ".git").is_dir()
    assert not (data_dir / "codality.db").exists()  # the user's own data dir is untouched
    assert not (data_dir / "demo" / "server.json").exists()  # the demo server was stopped


def test_ctrl_c_detaches_and_the_agent_keeps_working(
    server: RunningServer, admin_token: str, cli: Cli, project: dict[str, Any], fake: FakeAnthropic
) -> None:
    import os
    import signal
    import subprocess
    import sys

    fake.script(tool("bash", say="Working on it.", command="sleep 60"))
    slug = project["slug"]
    number = file_ticket(cli, project)
    env = {**os.environ, "CODALITY_URL": server.url, "CODALITY_TOKEN": admin_token}
    streaming = subprocess.Popen(
        [sys.executable, "-m", "codality_cli", "-p", slug, "ticket", "start", str(number)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert streaming.stdout is not None and streaming.stderr is not None
    # Each line reaches a pipe as it is finished, not when the run ends.
    assert streaming.stdout.readline() == "Working on it.\n"
    assert streaming.stderr.readline().startswith("── agent started")
    assert streaming.stderr.readline().startswith("✓ worktree ready in ")
    assert streaming.stderr.read(len("▸ bash sleep 60")) == "▸ bash sleep 60"  # shown at once
    streaming.send_signal(signal.SIGINT)
    _, stderr = streaming.communicate(timeout=15)
    assert streaming.returncode == 130, stderr
    assert "detached; the agent keeps working" in stderr
    assert f"codality ticket watch {number}" in stderr and "Traceback" not in stderr
    assert cli("-p", slug, "ticket", "runs", str(number), "--json").json()["running"] is True
    assert cli("-p", slug, "ticket", "stop", str(number)).exit_code == 0


def read_until(process: subprocess.Popen[str], marker: str, timeout: float = 30) -> str:
    """What the process wrote on stderr until ``marker`` (a line may still be open)."""
    assert process.stderr is not None
    fd, seen = process.stderr.fileno(), b""
    deadline = time.monotonic() + timeout
    while marker.encode() not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, 4096) if ready else b""
        assert chunk, f"no {marker!r} on stderr: {seen.decode(errors='replace')!r}"
        seen += chunk
    return seen.decode()


def test_watch_ends_when_the_server_restarts_under_a_running_session(
    tmp_path: Path, git_repo: Path
) -> None:
    """kill -9 the server mid-run and start it again: ``watch`` sees the session interrupted
    (re-read after reconnecting) instead of waiting for a stop event that never comes."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    port = free_port()
    fake = FakeAnthropic().start()
    proc, url = spawn_server(data_dir, port)
    watcher: subprocess.Popen[str] | None = None
    try:
        token = sign_in(SimpleNamespace(url=url, data_dir=data_dir))  # type: ignore[arg-type]
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as api:
            env = {"ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": fake.url}
            assert api.put("/api/settings/env", json=env).status_code == 200
            body = {"mode": "existing", "path": str(git_repo)}
            slug = api.post("/api/projects", json=body).json()["slug"]
            assert api.post(f"/api/projects/{slug}/tickets", json={"title": "Slow"}).is_success
            fake.script(tool("bash", command="sleep 120"), text("Slept."))
            started = api.post(f"/api/projects/{slug}/tickets/1/agent/start", json={})
            assert started.is_success, started.text
        watcher = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "codality_cli",
                "--server",
                url,
                "-p",
                slug,
                "ticket",
                "watch",
                "1",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "CODALITY_TOKEN": token},
        )
        read_until(watcher, "▸ bash sleep 120")  # the run so far is shown: following it now

        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc, _ = spawn_server(data_dir, port)

        _, err = watcher.communicate(timeout=60)  # the pipe's remainder
        assert watcher.returncode == 7, err
        assert "interrupted" in err

        # One word for it everywhere: the CLI's list and runs, the API, the board's card.
        def shown(*args: str) -> str:
            done = subprocess.run(
                [sys.executable, "-m", "codality_cli", "--server", url, "-p", slug, *args],
                capture_output=True,
                text=True,
                env={**os.environ, "CODALITY_TOKEN": token},
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
            return done.stdout

        assert shown("ticket", "list").split("\t")[6] == "interrupted"
        assert shown("ticket", "runs", "1").split("\t")[2] == "interrupted"
        ticket = json.loads(shown("ticket", "show", "1", "--json"))
        assert ticket["agent_status"] == "interrupted"
        card = render_card(ticket).plain
        assert " interrupted " in card and "failed" not in card
    finally:
        if watcher is not None and watcher.poll() is None:
            watcher.kill()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        fake.stop()


def merged_output(
    server: RunningServer, token: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """``codality ARGS`` in a real process with stdout and stderr on one pipe, as a terminal
    shows them: the order of text, tool lines and commits is part of what is compared."""
    return subprocess.run(
        [sys.executable, "-m", "codality_cli", "--server", server.url, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "CODALITY_TOKEN": token},
        timeout=60,
    )


def test_start_and_watch_print_the_same_lines(
    server: RunningServer, admin_token: str, cli: Cli, project: dict[str, Any], fake: FakeAnthropic
) -> None:
    """Two messages in one reply, a message after hidden thinking, and the final commit: the
    live run and both replays (the last run, and by ``--session``) print them line for line."""
    write = {"type": "tool_use", "name": "write_file", "input": {"path": "n.txt", "content": "n\n"}}
    fake.script(
        {"blocks": [{"type": "text", "text": "First."}, {"type": "text", "text": "2nd."}, write]},
        {
            "blocks": [
                {"type": "thinking", "thinking": "Check it."},
                {"type": "text", "text": "Third."},
                {"type": "thinking", "thinking": "Done?"},
                {"type": "text", "text": "Fourth."},
            ]
        },
    )
    slug = project["slug"]
    number = str(file_ticket(cli, project))
    live = merged_output(server, admin_token, "-p", slug, "ticket", "start", number)
    assert live.returncode == 0, live.stdout
    lines = live.stdout.splitlines()
    assert lines[0].startswith("── agent started")
    assert lines[1].startswith("✓ worktree ready in ") and lines[1].endswith(" s")
    del lines[1]
    assert lines[1:7] == [
        "First.",
        "2nd.",
        "▸ write_file n.txt  ✓ wrote 2 bytes to n.txt",
        "Check it.",
        "Third.",
        "Done?",
    ]
    assert lines[7] == "Fourth." and lines[8].startswith("● committed ")
    assert lines[9].startswith("── completed") and len(lines) == 10

    session = cli("-p", slug, "ticket", "runs", number, "--json").json()["sessions"][0]["id"]
    replay = merged_output(server, admin_token, "-p", slug, "ticket", "watch", number)
    earlier = ("-p", slug, "ticket", "watch", number, "--session", str(session))
    lines = live.stdout.splitlines()
    assert replay.stdout.splitlines() == lines
    assert merged_output(server, admin_token, *earlier).stdout.splitlines() == lines

    # Without thinking, the messages either side of it still get lines of their own.
    quiet = merged_output(server, admin_token, *earlier, "--no-thinking").stdout.splitlines()
    assert quiet == [line for line in lines if line not in ("Check it.", "Done?")]


def test_watch_joining_mid_message_prints_it_whole_once(
    server: RunningServer, admin_token: str, cli: Cli, project: dict[str, Any], fake: FakeAnthropic
) -> None:
    """A viewer that arrives while a message streams gets the stored part, then the rest from
    the events: every word once, on one line, whatever the moment it joined."""
    words = " ".join(f"w{n}" for n in range(400))
    fake.script(text(words, delay_s=0.01))
    slug = project["slug"]
    number = str(file_ticket(cli, project))
    assert cli("-p", slug, "ticket", "start", number, "--detach").exit_code == 0
    headers = {"Authorization": f"Bearer {admin_token}"}
    agent = f"{server.url}/api/projects/{slug}/tickets/{number}/agent"
    deadline = time.monotonic() + 30
    while True:  # until part of the message is stored, the rest still to come
        assert time.monotonic() < deadline
        status = httpx.get(f"{agent}/status", headers=headers).json()
        if status["session"] is None:
            continue
        stored = httpx.get(f"{agent}/sessions/{status['session']['id']}", headers=headers).json()
        texts = [b["data"]["text"] for b in stored["transcript"] if b["kind"] == "text"]
        if texts and 0 < len(texts[0]) < len(words):
            break
        assert stored["status"] == "running", "the message ended before the viewer joined"
    watched = merged_output(server, admin_token, "-p", slug, "ticket", "watch", number)
    assert watched.returncode == 0, watched.stdout
    lines = watched.stdout.splitlines()
    assert lines[1].startswith("✓ worktree ready in ")
    assert lines[2] == words and lines[3].startswith("── completed") and len(lines) == 4


def test_a_run_stops_at_its_turn_budget_and_says_why(
    server: RunningServer, admin_token: str, cli: Cli, project: dict[str, Any], fake: FakeAnthropic
) -> None:
    """A model that never ends its turn: --max-turns stops the run, live and in `ticket runs`.
    The reason is said once (the run's error and its end both carry it), live and replayed."""
    fake.script(*[tool("list_directory", path=".") for _ in range(20)])
    slug = project["slug"]
    number = file_ticket(cli, project)
    run = merged_output(
        server, admin_token, "-p", slug, "ticket", "start", str(number), "--max-turns", "3"
    )
    assert run.returncode == 7, run.stdout
    lines = run.stdout.splitlines()
    assert lines[-2:-1] == ["! budget: 3 turns"] and lines[-1].startswith("── stopped · ")
    assert run.stdout.count("budget: 3 turns") == 1, run.stdout
    assert len(fake.requests) == 3
    replay = merged_output(server, admin_token, "-p", slug, "ticket", "watch", str(number))
    assert replay.returncode == 7 and replay.stdout.splitlines() == lines

    runs = cli("-p", slug, "ticket", "runs", str(number))
    assert runs.exit_code == 0, runs.stderr
    assert "stopped" in runs.stdout and "budget: 3 turns" in runs.stdout
    assert runs.stdout.split("\t")[5] == "3"  # the turns it made
    shown = cli("-p", slug, "ticket", "runs", str(number), "--json").json()["session"]
    assert shown["status"] == "stopped" and shown["error"] == "budget: 3 turns"
    assert shown["turns"] == 3

    refused = cli("-p", slug, "ticket", "start", str(number), "--max-turns", "0")
    assert refused.exit_code != 0 and "--max-turns" in refused.stderr
    assert len(fake.requests) == 3


def test_a_cut_history_is_said_live_and_in_the_replay(
    server: RunningServer,
    admin_token: str,
    cli: Cli,
    project: dict[str, Any],
    fake: FakeAnthropic,
) -> None:
    """A window so small that a few long tool outputs outgrow it: the run goes on, and both the
    live stream and the replay say what was dropped."""
    small = {"max_tokens": 500, "context_windows": {"claude-sonnet-4-6": 6_000}}
    auth = {"Authorization": f"Bearer {admin_token}"}
    assert httpx.put(f"{server.url}/api/settings", json=small, headers=auth).is_success
    fake.cache.window = 6_000
    loud = "python3 -c 'print(\"x\" * 3000)'"
    fake.script(*[tool("bash", command=loud) for _ in range(6)], text("Printed enough."))
    number = file_ticket(cli, project)
    run = cli("-p", project["slug"], "ticket", "start", str(number))
    assert run.exit_code == 0, run.stderr
    cut = "✂ history cut to fit the context window, cleared the output of "
    assert cut in run.stderr
    replay = cli("-p", project["slug"], "ticket", "watch", str(number))
    assert [line for line in replay.stderr.splitlines() if cut in line] == [
        line for line in run.stderr.splitlines() if cut in line
    ]
