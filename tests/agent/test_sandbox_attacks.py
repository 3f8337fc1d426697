"""Issue 19's attacks on the sandbox, each tried for real under bubblewrap and Landlock.

Every secret lives outside ``/tmp`` (the sandbox's private ``/tmp`` would hide it whatever the code
does), and each attack is first shown to work with ``sandbox none`` in the same test: the control
that makes "it fails when confined" mean something.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from codality_server.agent.egress import (
    EgressAccess,
    EgressPolicy,
    EgressProxy,
    Refused,
    is_public,
)
from codality_server.agent.sandbox import (
    POINTER_RESTORED,
    CommandResult,
    Sandbox,
    SandboxKind,
    run_command,
    scrubbed_env,
    secret_paths,
)
from codality_server.git.worktrees import create_worktree
from tests.conftest import RunningServer
from tests.fakes.anthropic_server import FakeAnthropic, text, tool

from .conftest import agent_url, new_ticket, wait_for_end

IDENTITY = ("Ann", "ann@example.com")


def make_data_dir(root: Path) -> tuple[Path, Path]:
    """The server's layout: the data dir with its secrets, a worktree inside it."""
    data_dir = root / "data"
    worktree = data_dir / "worktrees" / "proj" / "1"
    worktree.mkdir(parents=True)
    (data_dir / "env").write_text("ANTHROPIC_API_KEY=sk-live\n")
    return data_dir, worktree


async def run(
    kind: SandboxKind,
    command: str,
    worktree: Path,
    hidden: tuple[Path, ...] = (),
    read_only: tuple[Path, ...] = (),
    egress: EgressAccess | None = None,
) -> CommandResult:
    env = scrubbed_env(os.environ, set(), IDENTITY)
    sandbox = Sandbox(kind, True, read_only, hidden, env, egress)
    return await run_command(sandbox, command, worktree, 20, 64 * 1024)


def status_fields(output: str) -> dict[str, str]:
    return dict(line.split(":\t", 1) for line in output.splitlines() if ":\t" in line)


STATUS = "grep -E '^(CapEff|CapPrm|NoNewPrivs):' /proc/self/status"


async def test_commands_hold_no_capabilities_even_when_the_server_is_root(
    confined: SandboxKind, outside_tmp: Path
) -> None:
    data_dir, worktree = make_data_dir(outside_tmp)
    host = status_fields((await run("none", STATUS, worktree)).output)
    if os.geteuid() == 0:  # the control: a root server's own commands hold capabilities
        assert int(host["CapEff"], 16) != 0, host
    inside = status_fields((await run(confined, STATUS, worktree, (data_dir,))).output)
    assert int(inside["CapEff"], 16) == 0 and int(inside["CapPrm"], 16) == 0, inside
    assert inside["NoNewPrivs"] == "1", inside
    # With capabilities these would uncover the data dir and let writes reach the host.
    attack = (
        f"cd /; umount -l {data_dir}; cat {data_dir}/env; "
        f"mount -o remount,bind,rw /; touch {outside_tmp}/planted"
    )
    seen = await run(confined, attack, worktree, (data_dir,))
    assert "sk-live" not in seen.output, seen.output
    assert not (outside_tmp / "planted").exists()
    assert (await run(confined, "echo written > mine", worktree, (data_dir,))).exit_code == 0
    assert (worktree / "mine").read_text() == "written\n"
    # The host is still as it was: the attack changed no mount outside.
    assert (data_dir / "env").read_text() == "ANTHROPIC_API_KEY=sk-live\n"


# One file in each kind of store a prompt-injected agent would go for, under the user's HOME.
CREDENTIALS = [
    ".config/codality/credentials.json",
    ".local/share/codality/setup-code",
    ".ssh/id_ed25519",
    ".gnupg/private-keys-v1.d/key.key",
    ".netrc",
    ".git-credentials",
    ".config/gh/hosts.yml",
    ".aws/credentials",
    ".config/gcloud/application_default_credentials.json",
    ".azure/msal_token_cache.json",
    ".docker/config.json",
    ".config/containers/auth.json",
    ".kube/config",
    ".pypirc",
    ".npmrc",
    ".cargo/credentials.toml",
    ".local/share/keyrings/login.keyring",
    ".config/acme/token",  # added by the sandbox_hidden_paths setting
]


async def test_the_users_credential_stores_are_unreadable(
    confined: SandboxKind, outside_tmp: Path
) -> None:
    data_dir, worktree = make_data_dir(outside_tmp)
    home = outside_tmp / "home"
    for number, relative in enumerate(CREDENTIALS):
        (home / relative).parent.mkdir(parents=True, exist_ok=True)
        (home / relative).write_text(f"secret-{number}\n")
    (home / ".bashrc").write_text("export EDITOR=vi\n")
    environ = {"HOME": str(home)}
    hidden = secret_paths(data_dir, ["~/.config/acme"], environ)
    read_all = "; ".join(f"cat {home / relative}" for relative in CREDENTIALS)
    read_all += f"; cat {home}/.bashrc {data_dir}/env"
    host = await run("none", read_all, worktree, hidden)
    for number in range(len(CREDENTIALS)):  # the control: all there to be read
        assert f"secret-{number}\n" in host.output
    seen = await run(confined, read_all, worktree, hidden)
    leaked = [CREDENTIALS[n] for n in range(len(CREDENTIALS)) if f"secret-{n}" in seen.output]
    assert leaked == [], seen.output
    assert "sk-live" not in seen.output
    assert "EDITOR=vi" in seen.output  # the rest of HOME stays readable
    listing = await run(confined, f"ls -a {home}/.ssh {home}/.config/codality", worktree, hidden)
    assert "id_ed25519" not in listing.output and "credentials.json" not in listing.output


@pytest.mark.usefixtures("bubblewrap")
async def test_a_daemons_socket_is_out_of_reach_under_bubblewrap(outside_tmp: Path) -> None:
    """A docker-like socket (here the test's own) runs anything as root for whoever connects."""
    data_dir, worktree = make_data_dir(outside_tmp)
    socket_path = outside_tmp / "daemon.sock"
    daemon = await asyncio.start_unix_server(answer_hello, str(socket_path))
    hidden = secret_paths(data_dir, [str(socket_path)], {"HOME": str(outside_tmp / "home")})
    connect = (
        f'{sys.executable} -c "import socket; s = socket.socket(socket.AF_UNIX); '
        f"s.connect('{socket_path}'); print(s.recv(5).decode())\""
    )
    try:
        assert "hello" in (await run("none", connect, worktree, hidden)).output  # the control
        refused = await run("bubblewrap", connect, worktree, hidden)
        assert refused.exit_code != 0 and "hello" not in refused.output, refused.output
    finally:
        daemon.close()
        await daemon.wait_closed()


async def answer_hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"hello")
    await writer.drain()
    writer.close()


def make_project(root: Path) -> tuple[Path, Path, Path]:
    """A real repository and a ticket worktree made the server's way, inside a data dir."""
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README").write_text("hello\n")
    git(repo, "add", "README")
    git(repo, "-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-qm", "first")
    data_dir, worktree = make_data_dir(root)
    worktree.rmdir()
    create_worktree(repo, worktree, "codality/1-x", "main")
    return repo, data_dir, worktree


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


def plant(repo: Path, worktree: Path, marker: Path) -> str:
    """Every way the agent's git writes would later run its code on the host or redirect git."""
    gitdir = git(worktree, "rev-parse", "--absolute-git-dir").strip()
    return "; ".join(
        [
            f"git config core.fsmonitor 'touch {marker}'",
            "git config url.http://attacker.invalid/.insteadOf https://github.com/",
            f"printf '#!/bin/sh\\ntouch {marker}\\n' > {repo}/.git/hooks/post-checkout",
            f"chmod +x {repo}/.git/hooks/post-checkout",
            f"echo '* filter=evil' > {repo}/.git/info/attributes",
            f"echo evil > {repo}/.git/refs/heads/main",
            f"echo {repo}/elsewhere > {gitdir}/commondir",
            f"printf 'gitdir: {marker.parent}/evil\\n' > .git",
            "echo more >> README",
        ]
    )


def planted(repo: Path) -> list[str]:
    config = (repo / ".git" / "config").read_text()
    found = [name for name in ("fsmonitor", "insteadOf") if name in config]
    hook = repo / ".git" / "hooks" / "post-checkout"
    found += ["hook"] if hook.exists() else []
    found += ["attributes"] if (repo / ".git" / "info" / "attributes").exists() else []
    found += ["ref"] if "evil" in (repo / ".git" / "refs" / "heads" / "main").read_text() else []
    commondirs = (repo / ".git" / "worktrees").glob("*/commondir")
    found += ["commondir"] if any("elsewhere" in c.read_text() for c in commondirs) else []
    return found


async def test_the_repositorys_git_metadata_is_read_only(
    confined: SandboxKind, outside_tmp: Path
) -> None:
    (outside_tmp / "host").mkdir()
    repo, _, worktree = make_project(outside_tmp / "host")
    script = plant(repo, worktree, outside_tmp / "host" / "ran")
    await run("none", script, worktree, read_only=(repo / ".git",))
    # The control: unconfined, every plant took root.
    assert planted(repo) == ["fsmonitor", "insteadOf", "hook", "attributes", "ref", "commondir"]

    (outside_tmp / "sandboxed").mkdir()
    repo, data_dir, worktree = make_project(outside_tmp / "sandboxed")
    pointer = (worktree / ".git").read_text()
    marker = outside_tmp / "sandboxed" / "ran"
    seen = await run(
        confined, plant(repo, worktree, marker), worktree, (data_dir,), (repo / ".git",)
    )
    assert planted(repo) == [], seen.output
    assert (worktree / ".git").read_text() == pointer
    if confined == "landlock":  # it could rewrite the file inside its worktree: put back
        assert POINTER_RESTORED in seen.output
    # Reading git works, and so does the ordinary work the server will commit.
    read = "git status --short; git diff --stat; git log --oneline"
    shown = await run(confined, read, worktree, (data_dir,), (repo / ".git",))
    assert " M README" in shown.output and "first" in shown.output, shown.output
    assert (worktree / "README").read_text() == "hello\nmore\n"
    # The host's own git in the worktree runs nothing of the agent's.
    git(worktree, "status")
    git(worktree, "checkout", "-q", "-b", "other")
    assert not marker.exists()


PUBLIC_PAGE = "a stand-in for a public host\n"


@pytest.fixture
async def stand_in_host(outside_tmp: Path) -> AsyncIterator[int]:
    """An HTTP server in its own process on loopback: the sandbox reaches it only through the
    egress proxy's allow-list (no traffic ever leaves this machine)."""
    site = outside_tmp / "site"
    site.mkdir()
    (site / "page.txt").write_text(PUBLIC_PAGE)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1", "0",
        cwd=site, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    line = (await process.stdout.readline()).decode()
    port = int(line.split(" port ")[1].split()[0])
    yield port
    process.kill()
    await process.wait()


def fetch(url: str) -> str:
    """A command printing ``url``'s body, through ``HTTP_PROXY`` when set (as pip's would)."""
    code = (
        "import urllib.request, sys\n"
        "try:\n"
        f"    print(urllib.request.urlopen({url!r}, timeout=10).read().decode(), end='')\n"
        "except Exception as exc:\n"
        "    print('refused:', exc); sys.exit(1)\n"
    )
    return f"{sys.executable} -c {shlex.quote(code)}"


def connect(port: int) -> str:
    """A command opening a plain TCP connection to the host's loopback ``port``."""
    code = f"import socket; socket.create_connection(('127.0.0.1', {port}), 5); print('connected')"
    return f"{sys.executable} -c {shlex.quote(code)}"


async def test_the_network_leads_only_through_the_egress_proxy(
    confined: SandboxKind, outside_tmp: Path, stand_in_host: int
) -> None:
    data_dir, worktree = make_data_dir(outside_tmp)
    page = f"http://127.0.0.1:{stand_in_host}/page.txt"
    proxy = EgressProxy()
    try:
        # The control: on the host, the loopback server is simply there.
        assert (await run("none", connect(stand_in_host), worktree)).output == "connected\n"
        offered = await proxy.access([stand_in_host])
        shown = await run(confined, fetch(page), worktree, (data_dir,), egress=offered)
        assert shown.output == PUBLIC_PAGE, shown.output  # through the proxy's allow-list
        direct = await run(confined, connect(stand_in_host), worktree, (data_dir,), egress=offered)
        assert direct.output == "connected\n", direct.output  # a named host port, as it is
        # Not named: neither through the proxy nor directly.
        closed = await proxy.access([])
        refused = await run(confined, fetch(page), worktree, (data_dir,), egress=closed)
        assert refused.exit_code != 0 and "403" in refused.output, refused.output
        assert PUBLIC_PAGE not in refused.output
        cut = await run(confined, connect(stand_in_host), worktree, (data_dir,), egress=closed)
        assert cut.exit_code != 0 and "connected" not in cut.output, cut.output
    finally:
        await proxy.close()


async def test_the_proxy_refuses_private_addresses_and_the_server_itself() -> None:
    for address in ("127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                    "100.64.0.1", "0.0.0.0", "224.0.0.1", "::1", "fe80::1", "fc00::1",
                    "::ffff:127.0.0.1", "::ffff:10.0.0.1"):  # fmt: skip
        assert not is_public(address), address
    for address in ("93.184.215.14", "2606:4700::1111", "::ffff:93.184.215.14"):
        assert is_public(address), address  # classified only: nothing is sent there
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    own = server.sockets[0].getsockname()[1]
    try:
        policy = EgressPolicy(frozenset({own}))
        with pytest.raises(Refused, match="Codality server itself"):
            await policy.vet("127.0.0.1", own)
        with pytest.raises(Refused, match="sandbox_host_ports"):
            await policy.vet("localhost", own + 1 if own < 65535 else 1)
        for spelling in ("127.1", "2130706433", "0x7f000001", "::ffff:127.0.0.1"):
            with pytest.raises(Refused, match="local or private"):  # loopback in disguise
                await policy.vet(spelling, own)
        proxy = EgressProxy()
        try:  # a server port named in the setting is dropped before any sandbox sees it
            assert (await proxy.access([own, 5432])).host_ports == (5432,)
        finally:
            await proxy.close()
    finally:
        server.close()
        await server.wait_closed()


def as_the_user(url: str, token: str, direct: bool) -> str:
    """What a prompt-injected agent holding the CLI's token would run: ``sandbox: none``."""
    handler = "urllib.request.ProxyHandler({})" if direct else ""
    code = (
        "import urllib.request, sys\n"
        f"request = urllib.request.Request({url + '/api/settings'!r}, method='PUT', "
        "data=b'{\"sandbox\": \"none\"}', headers={'Content-Type': 'application/json', "
        f"'Authorization': 'Bearer {token}'}})\n"
        f"opener = urllib.request.build_opener({handler})\n"
        "try:\n"
        "    print(opener.open(request, timeout=10).status)\n"
        "except Exception as exc:\n"
        "    print('refused:', exc); sys.exit(1)\n"
    )
    return f"{sys.executable} -c {shlex.quote(code)}"


async def test_the_server_is_out_of_reach_even_with_the_users_token(
    confined: SandboxKind, outside_tmp: Path, server: RunningServer, api: httpx.AsyncClient
) -> None:
    token = api.headers["Authorization"].removeprefix("Bearer ")
    data_dir, worktree = make_data_dir(outside_tmp)
    # The control: unconfined, the token turns the sandbox off.
    done = await run("none", as_the_user(server.url, token, direct=True), worktree)
    assert done.output == "200\n", done.output
    assert (await api.get("/api/settings")).json()["sandbox"] == "none"
    assert (await api.put("/api/settings", json={"sandbox": "auto"})).status_code == 200
    proxy = EgressProxy()
    try:  # even with the server's port named among the host ports
        egress = await proxy.access([int(server.url.rsplit(":", 1)[1])])
        for direct in (True, False):
            attempt = as_the_user(server.url, token, direct)
            seen = await run(confined, attempt, worktree, (data_dir,), egress=egress)
            assert seen.exit_code != 0 and "refused" in seen.output, seen.output
    finally:
        await proxy.close()
    assert (await api.get("/api/settings")).json()["sandbox"] == "auto"


@pytest.mark.usefixtures("bubblewrap")
async def test_a_ticket_sessions_commands_get_the_whole_sandbox(
    agent_api: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    project: dict[str, Any],
    outside_tmp: Path,
    stand_in_host: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through the server: the user's credentials hidden, the way out through the proxy."""
    home = outside_tmp / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("secret-ssh-key\n")
    (home / ".config" / "codality").mkdir(parents=True)
    (home / ".config" / "codality" / "credentials.json").write_text('{"token": "secret-cli"}\n')
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    page = f"http://127.0.0.1:{stand_in_host}/page.txt"
    command = f"cat ~/.ssh/id_ed25519 ~/.config/codality/credentials.json; {fetch(page)}"

    async def session_output(mode: str, host_ports: list[int]) -> tuple[str, str]:
        change = {"sandbox": mode, "sandbox_host_ports": host_ports}
        assert (await agent_api.put("/api/settings", json=change)).status_code == 200
        fake_anthropic.script(tool("bash", command=command), text("Looked around."))
        ticket = await new_ticket(agent_api, project["slug"], title=f"{mode} {host_ports}")
        session = (await agent_api.post(agent_url(project, ticket, "start"))).json()
        ended = await wait_for_end(agent_api, project, ticket)
        url = agent_url(project, ticket, f"sessions/{session['id']}")
        stored = (await agent_api.get(url)).json()
        [result] = [b["data"] for b in stored["transcript"] if b["kind"] == "tool_result"]
        return ended["sandbox"], result["output"]

    kind, unconfined = await session_output("none", [stand_in_host])
    assert kind == "none" and "secret-ssh-key" in unconfined and "secret-cli" in unconfined
    kind, confined = await session_output("auto", [stand_in_host])
    assert kind == "bubblewrap"
    assert "secret-ssh-key" not in confined and "secret-cli" not in confined, confined
    assert PUBLIC_PAGE in confined  # through the server's egress proxy
    kind, closed = await session_output("auto", [])
    assert PUBLIC_PAGE not in closed and "403" in closed, closed
