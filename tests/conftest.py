"""Shared fixtures: a real server on a loopback port, real git repositories, isolated homes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from codality_server.settings import ServerSettings

if TYPE_CHECKING:
    import ssl

    from tests.fakes.anthropic_server import FakeAnthropic


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """No test reads or writes the real user's config, keyring or data."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local/state"))
    monkeypatch.setenv("CODALITY_NO_KEYRING", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    # The server falls back to the process environment for names its env store lacks.
    for name in (
        "CODALITY_URL",
        "CODALITY_TOKEN",
        "CODALITY_PROJECT",
        "CODALITY_DATA_DIR",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n"
    )
    return home


@dataclass
class RunningServer:
    """A real server in a background thread with its own event loop."""

    settings: ServerSettings
    url: str = ""
    loop: asyncio.AbstractEventLoop | None = None
    app: Any = None
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    def call(self, coro: Any) -> Any:
        """Run a coroutine on the server's loop (to reach services directly in a test)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)


def start_server(
    settings: ServerSettings, ssl_context: ssl.SSLContext | None = None
) -> tuple[RunningServer, threading.Thread]:
    """The real app in a thread; with ``ssl_context`` it serves https."""
    from aiohttp import web

    from codality_server.app import create_app
    from codality_server.http.serving import ApiRunner

    running = RunningServer(settings)
    ready = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        loop = asyncio.new_event_loop()
        running.loop = loop

        async def main() -> None:
            app = create_app(settings)
            running.app = app
            runner = ApiRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context).start()
            port = runner.addresses[0][1]
            scheme = "https" if ssl_context is not None else "http"
            running.url = f"{scheme}://127.0.0.1:{port}"
            ready.set()
            while not running._stop.is_set():
                await asyncio.sleep(0.05)
            await runner.cleanup()

        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # surfaced to the test below
            errors.append(exc)
            ready.set()
        finally:
            loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(30)
    if errors:
        raise errors[0]
    return running, thread


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture
def server_settings(data_dir: Path, tmp_path: Path) -> ServerSettings:
    return ServerSettings(
        data_dir=data_dir, port=0, heartbeat_s=0.5, keyring=False, retry_backoff_s=0.01
    )


@pytest.fixture
def server(server_settings: ServerSettings) -> Iterator[RunningServer]:
    running, thread = start_server(server_settings)
    try:
        yield running
    finally:
        running._stop.set()
        thread.join(15)


def sign_in(server: RunningServer, email: str = "admin@example.com") -> str:
    """Complete first-time setup with the code file; returns the admin's session token."""
    code = (server.data_dir / "setup-code").read_text().strip()
    response = httpx.post(
        f"{server.url}/api/setup/verify", json={"code": code, "email": email, "name": "Admin"}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def latest_outbox_code(data_dir: Path) -> str:
    """The code in the newest message of the outbox."""
    import re

    messages = sorted((data_dir / "outbox").iterdir())
    text = messages[-1].read_text()
    found = re.search(r"code is (\d{6})", text)
    assert found, text
    return found.group(1)


@pytest.fixture
def admin_token(server: RunningServer) -> str:
    return sign_in(server)


def bearer_client(url: str, token: str) -> httpx.AsyncClient:
    """An async client that sends ``token`` as its bearer session."""
    return httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


@pytest.fixture
async def api(server: RunningServer, admin_token: str) -> AsyncIterator[httpx.AsyncClient]:
    """An async client signed in as the first admin."""
    async with bearer_client(server.url, admin_token) as client:
        yield client


@pytest.fixture
async def anon(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield client


#: A session as ``agent:started`` shows it; tests override the fields they care about.
SESSION_VIEW: dict[str, Any] = {
    "id": 1,
    "ticket_id": None,
    "owner": {"kind": "ticket", "id": 1},
    "agent": "ticket",
    "trigger": "manual",
    "status": "running",
    "model": "claude-sonnet-4-6",
    "sandbox": "none",
    "tokens_in": 0,
    "tokens_uncached": 0,
    "tokens_cache_write": 0,
    "tokens_cache_read": 0,
    "tokens_out": 0,
    "cost_usd": 0.0,
    "turns": 0,
    "summary": None,
    "error": None,
    "started_at": "2026-01-01T00:00:00.000Z",
    "ended_at": None,
}


def payload(type_: str, data: dict[str, Any]) -> Any:
    """The catalogue's payload for ``type_`` from a test's partial data: agent events get
    session 1 (``agent:started|stopped`` a whole session view) unless the data says otherwise."""
    from codality_server.domain.events import CATALOGUE
    from codality_server.domain.sessions import Usage

    if type_.startswith("agent:"):
        data = {"session_id": data.get("id", 1), **data}
        if type_ in ("agent:started", "agent:stopped"):
            data = {**SESSION_VIEW, "id": data["session_id"], **data}
        if type_ == "agent:stopped":
            data = {"usage": {k: data[k] for k in Usage.model_fields}, **data}
    return CATALOGUE[type_].model_validate(data)


def publish(server: RunningServer, type_: str, channels: list[str], data: dict[str, Any]) -> int:
    """Put an event on the server's bus (on its loop), as the services do; returns its id."""
    from codality_server.http.keys import BUS

    async def put() -> int:
        return int(server.app[BUS].publish(payload(type_, data), channels).id)

    return int(server.call(put()))


def git(cwd: Path, *args: str) -> str:
    """Run the real git CLI and return its stdout."""
    result = subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=os.environ.copy()
    )
    return result.stdout


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A real repository made with the git CLI: branch main, two commits."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("# Sample\n\nA sample project.\n")
    (repo / "src").mkdir()
    (repo / "src" / "app.py").write_text("def greet(name):\n    return f'hello {name}'\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial commit")
    (repo / "src" / "util.py").write_text("VALUE = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "add util")
    return repo


async def create_project(
    api: httpx.AsyncClient, repo: Path | None = None, **body: Any
) -> dict[str, Any]:
    """Create a project through the API: ``repo`` registers that existing repository; ``body``
    gives any other fields (``mode="new"``, ``mode="clone"``, ``name`` …)."""
    if repo is not None:
        body = {"mode": "existing", "path": str(repo), **body}
    response = await api.post("/api/projects", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def create_ticket(api: httpx.AsyncClient, slug: str, **fields: Any) -> dict[str, Any]:
    """File a ticket (title "A ticket" unless given) through the API; returns its view."""
    response = await api.post(f"/api/projects/{slug}/tickets", json={"title": "A ticket", **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
async def project(api: httpx.AsyncClient, git_repo: Path) -> dict[str, Any]:
    """``git_repo`` registered as a project."""
    return await create_project(api, git_repo)


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    """The scripted model server the real anthropic SDK talks to."""
    from tests.fakes.anthropic_server import FakeAnthropic

    fake = FakeAnthropic().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
async def agent_api(
    server: RunningServer, api: httpx.AsyncClient, fake_anthropic: FakeAnthropic
) -> httpx.AsyncClient:
    """The admin client, with the server's env pointing the agent at the fake model (the
    ``server_settings`` fixture makes retries quick)."""
    env = {"ANTHROPIC_API_KEY": "sk-test-key", "ANTHROPIC_BASE_URL": fake_anthropic.url}
    assert (await api.put("/api/settings/env", json=env)).status_code == 200
    return api


FRIENDLIER_GREET = "def greet(name):\n    return f'hi {name}!'\n"


def commit_on_branch(repo: Path, worktree: Path, branch: str, files: dict[str, str]) -> Path:
    """A worktree of ``repo`` on a new ``branch`` off main (git CLI) with one commit that writes
    ``files`` (relative path → text)."""
    git(repo, "worktree", "add", "-q", "-b", branch, str(worktree), "main")
    for name, text in files.items():
        (worktree / name).write_text(text)
    git(worktree, "add", "-A")
    git(worktree, "commit", "-q", "-m", "friendlier greeting")
    return worktree


def point_git_file_at_own_git_dir(worktree: Path, repo: Path, work_tree: Path) -> Path:
    """Play the agent: give ``worktree`` a git dir of its own (``.evil``, borrowing ``repo``'s
    objects) whose ``core.worktree`` is ``work_tree``, and point the ``.git`` file at it."""
    evil = worktree / ".evil"
    (evil / "objects" / "info").mkdir(parents=True)
    (evil / "refs" / "heads").mkdir(parents=True)
    (evil / "objects" / "info" / "alternates").write_text(f"{repo / '.git' / 'objects'}\n")
    (evil / "HEAD").write_text("ref: refs/heads/main\n")
    (evil / "config").write_text(f"[core]\n\tbare = false\n\tworktree = {work_tree}\n")
    (worktree / ".git").write_text("gitdir: .evil\n")
    return evil


def attach_work(
    server: RunningServer, ticket: dict[str, Any], repo: Path, worktree: Path, branch: str
) -> Any:
    """Give ``ticket`` a worktree with one commit (a friendlier greeting) and an uncommitted
    ``notes.md``, recorded through the tickets service; returns the updated ticket."""
    from codality_server.http.keys import SERVICES

    commit_on_branch(repo, worktree, branch, {"src/app.py": FRIENDLIER_GREET})
    (worktree / "notes.md").write_text("uncommitted notes\n")
    tickets = server.app[SERVICES].tickets
    return server.call(tickets.set_worktree(ticket["id"], branch, str(worktree)))


def stack_work(
    server: RunningServer,
    repo: Path,
    below: dict[str, Any],
    ticket: dict[str, Any],
    worktree: Path,
    branch: str,
    files: dict[str, str],
) -> Any:
    """Start ``ticket`` from ``below``'s branch as a dependent ticket is (``services.stacks``):
    a worktree of its own on ``branch`` (git CLI) with one commit writing ``files``, recorded as
    stacked on ``below`` from that branch's tip; returns the updated ticket."""
    from codality_server.http.keys import SERVICES

    tickets = server.app[SERVICES].tickets
    below_branch = server.call(tickets.get_by_id(below["id"])).branch
    fork = git(repo, "rev-parse", f"refs/heads/{below_branch}").strip()
    git(repo, "worktree", "add", "-q", "-b", branch, str(worktree), fork)
    for name, text in files.items():
        (worktree / name).write_text(text)
    git(worktree, "add", "-A")
    git(worktree, "commit", "-q", "-m", f"work of #{ticket['number']}")
    server.call(tickets.set_worktree(ticket["id"], branch, str(worktree)))
    return server.call(tickets.set_stacked_on(ticket["id"], below["id"], fork))


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is the one error envelope with this status (and code)."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return dict(body["error"])


# Runs the command after it, passes SIGTERM on, and once it has ended writes to the file named
# first the largest peak RSS (KB) of it and every process under it that was waited for: the
# server and the git, bwrap and tool processes it ran. (Each starts from the peak of the process
# it was forked from, so this wrapper is exec'ed fresh to start small.)
_DESCENDANTS_PEAK = """
import resource, signal, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
signal.signal(signal.SIGTERM, lambda *_: child.terminate())
code = child.wait()
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
open(sys.argv[1], "w").write(str(peak))
sys.exit(code)
"""


def spawn_server(
    data_dir: Path, port: int = 0, timeout: float = 15.0, descendants_peak: Path | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``python -m codality_server`` as a real process; returns it and its URL.

    With ``descendants_peak``, the server runs under a small wrapper (the process returned) that
    writes to that file, once the server has stopped, the peak RSS in KB of the server and of
    every process it ran."""
    import json
    import sys
    import time

    command = [sys.executable, "-m", "codality_server", "--data-dir", str(data_dir)]
    command += ["--port", str(port)]
    if descendants_peak is not None:
        command = [sys.executable, "-c", _DESCENDANTS_PEAK, str(descendants_peak), *command]
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    info = data_dir / "server.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}"
            )
        if info.exists():
            try:
                data = json.loads(info.read_text())
            except ValueError:
                data = {}
            if data.get("pid") == proc.pid or (descendants_peak and data.get("pid")):
                try:
                    if httpx.get(f"{data['url']}/healthz", timeout=1).status_code == 200:
                        return proc, str(data["url"])
                except httpx.HTTPError:
                    pass
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("server did not become ready")


@pytest.fixture
def fake_github(tmp_path: Path) -> Iterator[Any]:
    """A fake GitHub (REST API, git smart HTTP, signed webhooks) on loopback ports."""
    from tests.fakes.github_server import FakeGitHub

    fake = FakeGitHub(tmp_path / "github").start()
    try:
        yield fake
    finally:
        fake.stop()
