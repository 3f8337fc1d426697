"""kill -9 of the server while a queue runs, then a restart: the queue's state is all there.

The item whose agent was running fails (its session interrupted) and the queue pauses, so
nothing runs twice by surprise; release and start finish it. A queue that died between two
items goes on by itself after the restart.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
from pathlib import Path

import httpx

from tests.fakes.anthropic_server import FakeAnthropic, text, tool

from .test_crash_recovery import (
    alive,
    fake,
    first_event,
    sandboxed_sleepers,
    spawn,
    wait_until,
)

__all__ = ["fake"]  # the fixture, used by name below

MARKER = "sleep 48.75"


def signed_in(url: str, data_dir: Path) -> httpx.Client:
    code = (data_dir / "setup-code").read_text().strip()
    reply = httpx.post(f"{url}/api/setup/verify", json={"code": code, "email": "a@example.com"})
    return client(url, str(reply.json()["token"]))


def client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_kill_9_mid_queue_then_restart_pauses_it_with_the_item_failed(
    tmp_path: Path, git_repo: Path, fake: FakeAnthropic
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    fake.script(text("One done."), tool("bash", say="The slow part.", command=MARKER))
    process, url = spawn(data_dir)
    try:
        api = signed_in(url, data_dir)
        env = {"ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": fake.url}
        assert api.put("/api/settings/env", json=env).status_code == 200
        project = api.post("/api/projects", json={"mode": "existing", "path": str(git_repo)})
        slug, project_id = project.json()["slug"], project.json()["id"]
        for number in (1, 2, 3):
            api.post(f"/api/projects/{slug}/tickets", json={"title": f"Ticket {number}"})
        queues = f"/api/projects/{slug}/discover/queues"
        queue = api.post(queues, json={"name": "Night run", "tickets": [1, 2, 3]}).json()
        assert api.post(f"{queues}/{queue['id']}/start").status_code == 200
        sleepers = wait_until(lambda: sandboxed_sleepers(MARKER, under=process.pid))
        token = str(api.headers["Authorization"]).removeprefix("Bearer ")
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    for pid in alive(sleepers, MARKER):  # a tool outside bubblewrap may outlive the server
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    process, url = spawn(data_dir)
    try:
        api = client(url, token)
        shown = api.get(f"{queues}/{queue['id']}").json()
        assert shown["status"] == "paused"
        assert [(i["ticket"], i["status"]) for i in shown["items"]] == [
            (1, "done"),
            (2, "failed"),
            (3, "pending"),
        ]
        assert shown["reason"].startswith("#2 interrupted")
        assert shown["items"][1]["error"] == shown["reason"]
        first_session = shown["items"][0]["session"]
        paused = first_event(api, f"project:{project_id}", "queue:paused")
        assert paused["item"]["ticket"] == 2 and paused["session"]["status"] == "interrupted"

        fake.script(text("Two done."), text("Three done."))
        assert api.post(f"{queues}/{queue['id']}/release").status_code == 200
        assert api.post(f"{queues}/{queue['id']}/start").status_code == 200
        done = wait_until(
            lambda: (q := api.get(f"{queues}/{queue['id']}").json())["status"] == "completed" and q
        )
        assert [i["status"] for i in done["items"]] == ["done", "done", "done"]
        assert done["items"][0]["session"] == first_session
    finally:
        process.terminate()
        process.wait(10)


def test_a_queue_that_died_between_two_items_goes_on_after_a_restart(
    tmp_path: Path, git_repo: Path, fake: FakeAnthropic
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    fake.script(text("One done."))
    process, url = spawn(data_dir)
    try:
        api = signed_in(url, data_dir)
        env = {"ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": fake.url}
        assert api.put("/api/settings/env", json=env).status_code == 200
        slug = api.post("/api/projects", json={"mode": "existing", "path": str(git_repo)}).json()[
            "slug"
        ]
        for number in (1, 2, 3):
            api.post(f"/api/projects/{slug}/tickets", json={"title": f"Ticket {number}"})
        queues = f"/api/projects/{slug}/discover/queues"
        queue = api.post(queues, json={"name": "Q", "tickets": [1, 2, 3]}).json()
        token = str(api.headers["Authorization"]).removeprefix("Bearer ")
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)

    # What a kill between two steps leaves: #1 done, the queue running, nothing running yet —
    # and #3 marked running with no session (killed while its agent was starting).
    with sqlite3.connect(data_dir / "codality.db") as db:
        db.execute("UPDATE work_queues SET status = 'running' WHERE id = ?", (queue["id"],))
        db.execute("UPDATE work_queue_items SET status = 'done' WHERE ticket_id = 1")
    fake.script(text("Two done."), text("Three done."))
    process, url = spawn(data_dir)
    try:
        api = client(url, token)
        done = wait_until(
            lambda: (q := api.get(f"{queues}/{queue['id']}").json())["status"] == "completed" and q
        )
        assert [(i["ticket"], i["status"]) for i in done["items"]] == [
            (1, "done"),
            (2, "done"),
            (3, "done"),
        ]
        assert done["items"][0]["session"] is None  # #1 was done already: it did not run
    finally:
        process.terminate()
        process.wait(10)

    # Killed while an agent was starting: the item has no session; it fails, the queue pauses.
    with sqlite3.connect(data_dir / "codality.db") as db:
        db.execute("UPDATE work_queues SET status = 'running' WHERE id = ?", (queue["id"],))
        db.execute(
            "UPDATE work_queue_items SET status = 'running', session_id = NULL"
            " WHERE queue_id = ? AND position = 3",
            (queue["id"],),
        )
    process, url = spawn(data_dir)
    try:
        shown = client(url, token).get(f"{queues}/{queue['id']}").json()
        assert shown["status"] == "paused"
        assert shown["items"][2]["status"] == "failed"
        assert shown["reason"] == "#3: the server stopped while its agent was starting"
    finally:
        process.terminate()
        process.wait(10)
