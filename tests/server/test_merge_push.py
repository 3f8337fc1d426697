"""A merge's push to origin that fails or never ends: the merge stands, the ticket is ``done`` and
says the work is not on origin and how to push it again; no request or lock is held for it.

The origins are real servers on loopback: a socket that accepts and never says a word, and an
HTTP server answering every git request 401 or 500. The git on disk is checked with ``git``.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from codality_server.http.keys import SERVICES
from tests.conftest import RunningServer, assert_error, commit_on_branch, create_ticket, git
from tests.server.test_merge import ticket_with_work, url

# Far beyond the 1 s push timeout the tests set, far below the 150 s a silent origin held before.
ANSWER_WITHIN_S = 30.0


@pytest.fixture
def silent_origin() -> Iterator[str]:
    """An HTTP origin URL whose server accepts every connection and then says nothing."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/repo.git"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


@pytest.fixture
def refusing_origin(request: pytest.FixtureRequest) -> Iterator[str]:
    """An HTTP origin answering every request with ``request.param`` (401 or 500)."""
    status: int = request.param

    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/repo.git"
    httpd.shutdown()
    httpd.server_close()


async def merged_with_origin(
    server: RunningServer,
    api: httpx.AsyncClient,
    project: dict[str, Any],
    tmp_path: Path,
    origin: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Merge a ticket with work while ``origin`` is the repository's origin; (ticket, answer)."""
    repo = Path(project["path"])
    git(repo, "remote", "add", "origin", origin)
    assert (await api.put("/api/settings", json={"git_timeout_s": 1})).status_code == 200
    ticket = await ticket_with_work(server, api, project, tmp_path)
    response = await api.post(url(project, ticket, "worktree/merge"), timeout=ANSWER_WITHIN_S)
    assert response.status_code == 200, response.text
    return ticket, response.json()


def assert_merged_but_not_pushed(
    server: RunningServer, project: dict[str, Any], ticket: dict[str, Any], result: dict[str, Any]
) -> dict[str, Any]:
    repo = Path(project["path"])
    assert result["ticket"]["status"] == "done"
    assert git(repo, "rev-parse", "main").strip() == result["merge"]["after"]
    assert git(repo, "branch", "--list", "codality/*") == ""
    assert not server.app[SERVICES].repo_lock(project["path"]).locked()
    push = result["push"]
    assert (push["pushed"], push["state"], push["remote"], push["branch"]) == (
        False,
        "failed",
        "origin",
        "main",
    )
    assert push["retry"]["command"] == f"codality ticket push {ticket['number']}"
    assert push["retry"]["request"] == (
        f"POST /api/projects/{project['slug']}/tickets/{ticket['number']}/push"
    )
    assert result["ticket"]["push"] == push
    return dict(push)


async def test_an_origin_that_never_answers_fails_the_push_not_the_merge(
    server: RunningServer,
    api: httpx.AsyncClient,
    project: dict[str, Any],
    tmp_path: Path,
    silent_origin: str,
) -> None:
    ticket, result = await merged_with_origin(server, api, project, tmp_path, silent_origin)

    push = assert_merged_but_not_pushed(server, project, ticket, result)
    assert "timed out" in push["detail"] and "git_timeout_s" in push["detail"]
    shown = (await api.get(f"/api/projects/{project['slug']}/tickets/{ticket['number']}")).json()
    assert shown["status"] == "done" and shown["push"]["state"] == "failed"

    # While the origin still says nothing, pushing again fails the same way, and answers.
    again = await api.post(url(project, ticket, "push"), timeout=ANSWER_WITHIN_S)
    assert again.status_code == 200, again.text
    assert again.json()["push"]["state"] == "failed"

    # Once origin is a real repository, pushing again carries the merge there.
    repo = Path(project["path"])
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "set-url", "origin", str(bare))
    pushed = await api.post(url(project, ticket, "push"))
    assert pushed.status_code == 200, pushed.text
    report = pushed.json()["push"]
    assert (report["pushed"], report["state"], report["retry"]) == (True, "pushed", None)
    assert git(bare, "rev-parse", "main") == git(repo, "rev-parse", "main")
    shown = (await api.get(f"/api/projects/{project['slug']}/tickets/{ticket['number']}")).json()
    assert shown["push"]["pushed"] is True
    refused = assert_error(await api.post(url(project, ticket, "push")), 409)
    assert refused["reason"] == "already_pushed"


@pytest.mark.parametrize(
    ("refusing_origin", "says"), [(401, "401"), (500, "500")], indirect=["refusing_origin"]
)
async def test_an_origin_refusing_the_push_is_reported_on_the_ticket(
    server: RunningServer,
    api: httpx.AsyncClient,
    project: dict[str, Any],
    tmp_path: Path,
    refusing_origin: str,
    says: str,
) -> None:
    ticket, result = await merged_with_origin(server, api, project, tmp_path, refusing_origin)

    push = assert_merged_but_not_pushed(server, project, ticket, result)
    assert says in push["detail"], push["detail"]


async def test_a_merge_pushed_later_marks_every_merge_it_carries(
    server: RunningServer, api: httpx.AsyncClient, project: dict[str, Any], tmp_path: Path
) -> None:
    repo = Path(project["path"])
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    first = await ticket_with_work(server, api, project, tmp_path)
    kept = (await api.post(url(project, first, "worktree/merge"), json={"push": False})).json()
    assert (kept["push"]["state"], kept["push"]["pushed"]) == ("not_pushed", False)
    assert "push off for this merge" in kept["push"]["detail"]
    assert kept["push"]["retry"]["command"] == "codality ticket push 1"
    assert git(bare, "rev-parse", "main") != git(repo, "rev-parse", "main")

    second = await create_ticket(api, project["slug"], title="Second")
    worktree = commit_on_branch(repo, tmp_path / "second", "codality/2", {"second.md": "2\n"})
    tickets = server.app[SERVICES].tickets
    server.call(tickets.set_worktree(second["id"], "codality/2", str(worktree)))
    merged = (await api.post(url(project, second, "worktree/merge"))).json()
    assert merged["push"]["pushed"] is True
    assert git(bare, "rev-parse", "main") == git(repo, "rev-parse", "main")

    shown = (await api.get(f"/api/projects/{project['slug']}/tickets/{first['number']}")).json()
    assert shown["push"]["pushed"] is True and shown["push"]["retry"] is None


async def test_pushing_a_ticket_that_was_not_merged_is_refused(
    api: httpx.AsyncClient, project: dict[str, Any]
) -> None:
    idle = await create_ticket(api, project["slug"], title="Idle")
    refused = assert_error(await api.post(url(project, idle, "push")), 409)
    assert refused["reason"] == "not_merged"
    assert idle["push"] is None


async def test_a_clone_from_an_origin_that_never_answers_is_refused_in_time(
    api: httpx.AsyncClient, silent_origin: str, tmp_path: Path
) -> None:
    """Every git network call has a timeout, the clone of a new project too: a silent origin
    is a 400 naming the setting within the timeout, and nothing is left where it was to go."""
    assert (await api.put("/api/settings", json={"git_timeout_s": 1})).status_code == 200
    target = tmp_path / "never"
    body = {"mode": "clone", "url": silent_origin, "path": str(target)}

    response = await api.post("/api/projects", json=body, timeout=ANSWER_WITHIN_S)

    error = assert_error(response, 400)
    assert error["field"] == "url" and "could not clone" in error["message"]
    assert "did not answer in time (the git_timeout_s setting)" in error["message"]
    assert not target.exists()
    assert (await api.get("/api/projects")).json() == []
