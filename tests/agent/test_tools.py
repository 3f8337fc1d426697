"""Each tool's limits and confinement, on real files and real processes."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from codality_server.agent.egress import EgressAccess
from codality_server.agent.sandbox import (
    Sandbox,
    SandboxUnavailable,
    bubblewrap_problem,
    choose_sandbox,
    scrubbed_env,
)
from codality_server.agent.tools import Toolbox, ToolContext
from codality_server.domain.errors import InvalidInput


class NoKnowledge:
    """File and shell tools never ask the project; these answers prove it if they do."""

    async def get_ticket(self, number: int) -> dict[str, Any]:
        raise AssertionError("unexpected")

    async def search_tickets(self, query: str, limit: int) -> list[dict[str, Any]]:
        raise AssertionError("unexpected")

    async def memory(self, topic: str, number: int | None, limit: int) -> dict[str, Any]:
        raise AssertionError("unexpected")


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    root = tmp_path / "wt"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("".join(f"line {i}\n" for i in range(1, 101)))
    (root / ".git").write_text("gitdir: elsewhere\n")
    (tmp_path / "secret.txt").write_text("outside\n")
    (root / "escape").symlink_to(tmp_path)
    (root / "escape_file").symlink_to(tmp_path / "secret.txt")
    return root


def box(worktree: Path, kind: str = "none", timeout: float = 5) -> Toolbox:
    env = scrubbed_env(os.environ, set(), ("Ann", "ann@example.com"))
    sandbox = Sandbox(kind, True, (), (), env)  # type: ignore[arg-type]
    return Toolbox(ToolContext(worktree, sandbox, NoKnowledge(), timeout))


ESCAPES = ["../secret.txt", "/etc/passwd", "escape/secret.txt", "escape_file", "src/../../x"]


@pytest.mark.parametrize("path", ESCAPES)
async def test_no_tool_reaches_outside_the_worktree(worktree: Path, path: str) -> None:
    tools = box(worktree)
    for name, args in [
        ("read_file", {"path": path}),
        ("write_file", {"path": path, "content": "pwned"}),
        ("edit_file", {"path": path, "old_text": "outside", "new_text": "pwned"}),
        ("list_directory", {"path": path}),
        ("grep", {"pattern": "outside", "path": path}),
    ]:
        outcome = await tools.run(name, args)
        assert not outcome.ok, (name, path, outcome)
    assert (worktree.parent / "secret.txt").read_text() == "outside\n"
    assert not Path("/x").exists()


async def test_read_file_ranges_and_the_50_kb_cap(worktree: Path) -> None:
    tools = box(worktree)
    ranged = await tools.run("read_file", {"path": "src/app.py", "start_line": 3, "end_line": 4})
    assert ranged.ok and ranged.output == "line 3\nline 4\n"
    (worktree / "big.txt").write_text(("y" * 99 + "\n") * 1000)
    big = await tools.run("read_file", {"path": "big.txt"})
    assert big.ok and len(big.output) < 52 * 1024 and "truncated at 50 KB" in big.output
    (worktree / "bin.dat").write_bytes(b"\0\1\2")
    assert not (await tools.run("read_file", {"path": "bin.dat"})).ok
    assert not (await tools.run("read_file", {"path": "missing.txt"})).ok
    assert not (await tools.run("read_file", {"path": "src/app.py", "start_line": 0})).ok


async def test_write_creates_parents_and_edit_needs_exactly_one_match(worktree: Path) -> None:
    tools = box(worktree)
    wrote = await tools.run("write_file", {"path": "docs/new/notes.md", "content": "a\na\nb\n"})
    assert wrote.ok and (worktree / "docs/new/notes.md").read_text() == "a\na\nb\n"
    twice = await tools.run(
        "edit_file", {"path": "docs/new/notes.md", "old_text": "a", "new_text": "c"}
    )
    assert not twice.ok and "2 times" in twice.output
    absent = await tools.run(
        "edit_file", {"path": "docs/new/notes.md", "old_text": "zzz", "new_text": "c"}
    )
    assert not absent.ok and "not found" in absent.output
    once = await tools.run(
        "edit_file", {"path": "docs/new/notes.md", "old_text": "b", "new_text": "B"}
    )
    assert once.ok and (worktree / "docs/new/notes.md").read_text() == "a\na\nB\n"


async def test_grep_caps_matches_and_list_shows_sizes(worktree: Path) -> None:
    tools = box(worktree)
    many = await tools.run("grep", {"pattern": r"line \d+", "glob": "*.py"})
    lines = many.output.splitlines()
    assert many.ok and len(lines) == 51 and "more than 50 matches" in lines[-1]
    assert lines[0] == "src/app.py:1: line 1"
    one = await tools.run("grep", {"pattern": "^line 42$", "path": "src"})
    assert one.output == "src/app.py:42: line 42"
    assert not (await tools.run("grep", {"pattern": "("})).ok
    listing = await tools.run("list_directory", {})
    assert listing.ok and "src/" in listing.output and ".git" not in listing.output
    size = (worktree / "src" / "app.py").stat().st_size
    assert (await tools.run("list_directory", {"path": "src"})).output == f"app.py  {size} B"


async def test_bad_input_and_unknown_tools_are_error_results(worktree: Path) -> None:
    tools = box(worktree)
    assert "unknown tool" in (await tools.run("rm_rf", {})).output
    bad = await tools.run("read_file", {"paht": "x"})
    assert not bad.ok and "path" in bad.output


async def test_an_empty_tool_list_hands_out_no_tools(worktree: Path) -> None:
    env = scrubbed_env(os.environ, set(), ("Ann", "ann@example.com"))
    context = ToolContext(worktree, Sandbox("none", True, (), (), env), NoKnowledge(), 5)
    empty = Toolbox(context, tools=[])
    assert empty.specs() == [] and empty.describe() == ""
    refused = await empty.run("bash", {"command": f"touch {worktree}/ran"})
    assert not refused.ok and "unknown tool" in refused.output
    assert not (worktree / "ran").exists()
    assert len(Toolbox(context).specs()) > 0


async def test_bash_caps_output_keeping_head_and_tail(worktree: Path) -> None:
    tools = box(worktree)
    out = await tools.run("bash", {"command": "seq 1 20000"})
    assert out.ok and out.output.startswith("1\n2\n") and out.output.rstrip().endswith("20000")
    assert "bytes of output omitted" in out.output and len(out.output) < 31 * 1024
    failed = await tools.run("bash", {"command": "echo oops; exit 3"})
    assert not failed.ok and "oops" in failed.output and "exit code 3" in failed.output


async def test_bash_timeout_kills_the_whole_process_group(worktree: Path) -> None:
    tools = box(worktree, timeout=0.5)
    marker = worktree / "survived"
    out = await tools.run("bash", {"command": f"(sleep 2; touch {marker}) & sleep 30"})
    assert not out.ok and "killed after 0.5 s" in out.output
    import asyncio

    await asyncio.sleep(2.5)
    assert not marker.exists()


async def test_bash_env_has_the_git_identity_and_no_secrets(
    worktree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-live")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-live")
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2")
    monkeypatch.setenv("SSH_AUTH_SOCK", "/run/user/0/ssh-agent.sock")
    env = scrubbed_env(os.environ, {"CUSTOM_THING"}, ("Ann", "ann@example.com"))
    tools = Toolbox(ToolContext(worktree, Sandbox("none", True, (), (), env), NoKnowledge(), 5))
    out = (await tools.run("bash", {"command": "env"})).output
    assert "GIT_AUTHOR_NAME=Ann" in out and "GIT_COMMITTER_EMAIL=ann@example.com" in out
    for secret in ("sk-live", "ghp-live", "hunter2", "ANTHROPIC_API_KEY", "ssh-agent.sock"):
        assert secret not in out


@pytest.mark.usefixtures("bubblewrap")
async def test_bubblewrap_confines_writes_and_hides_the_data_dir(
    worktree: Path, tmp_path: Path, outside_tmp: Path
) -> None:
    data_dir = outside_tmp / "data"  # outside /tmp, which the sandbox hides anyway
    data_dir.mkdir()
    (data_dir / "env").write_text("ANTHROPIC_API_KEY=sk-live\n")
    env = scrubbed_env(os.environ, set(), ("Ann", "ann@example.com"))
    unconfined = Toolbox(
        ToolContext(worktree, Sandbox("none", True, (), (data_dir,), env), NoKnowledge(), 10)
    )
    shown = await unconfined.run("bash", {"command": f"cat {data_dir}/env"})
    assert shown.ok and "sk-live" in shown.output  # the control: readable without the sandbox
    assert await choose_sandbox("bubblewrap", True) == "bubblewrap"
    sandbox = Sandbox("bubblewrap", True, (), (data_dir,), env)
    tools = Toolbox(ToolContext(worktree, sandbox, NoKnowledge(), 10))
    ok = await tools.run("bash", {"command": "echo hi > inside.txt && cat inside.txt && echo $$"})
    assert ok.ok and ok.output.split()[0] == "hi"
    assert (worktree / "inside.txt").read_text() == "hi\n"
    # /tmp is private: a write there never reaches the host's /tmp.
    await tools.run("bash", {"command": f"echo x > {tmp_path}/outside.txt"})
    assert not (tmp_path / "outside.txt").exists()
    assert not (await tools.run("bash", {"command": "touch /var/tmp/codality-probe"})).ok
    assert not (await tools.run("bash", {"command": "touch /usr/local/nope"})).ok
    assert not (await tools.run("bash", {"command": f"touch {outside_tmp}/planted"})).ok
    hidden = await tools.run("bash", {"command": f"cat {data_dir}/env"})
    assert not hidden.ok and "sk-live" not in hidden.output
    private = await tools.run("bash", {"command": "touch /tmp/mine && ls /tmp"})
    assert private.ok and "mine" in private.output.split()
    assert not Path("/tmp/mine").exists()
    pids = await tools.run("bash", {"command": "ls /proc | grep -c '^[0-9]'"})
    assert int(pids.output.strip()) < 6  # its own PID namespace


@pytest.mark.usefixtures("bubblewrap")
async def test_bubblewrap_can_cut_the_network(worktree: Path) -> None:
    env = scrubbed_env(os.environ, set(), ("Ann", "ann@example.com"))
    kind = await choose_sandbox("auto", False)
    assert kind == "bubblewrap"
    tools = Toolbox(ToolContext(worktree, Sandbox(kind, False, (), (), env), NoKnowledge(), 10))
    out = await tools.run("bash", {"command": "cat /proc/net/dev | tail -n +3 | cut -d: -f1"})
    assert out.ok and out.output.split() == ["lo"]


ORPHANED = """
import asyncio, os, sys
from pathlib import Path
from codality_server.agent.sandbox import Sandbox, _Gate

async def main():
    gate = _Gate()
    sandbox = Sandbox("bubblewrap", True, (), (), dict(os.environ))
    argv = sandbox.argv(sys.argv[1], Path(sys.argv[2]), gate)
    process = await asyncio.create_subprocess_exec(
        *argv, pass_fds=gate.child_ends, start_new_session=True
    )
    print(process.pid, flush=True)
    await asyncio.sleep(0.5)
    os._exit(0)  # the server dies before letting the command run

asyncio.run(main())
"""


@pytest.mark.usefixtures("bubblewrap")
async def test_a_command_whose_server_died_while_bubblewrap_set_up_never_runs(
    worktree: Path,
) -> None:
    marker = worktree / "ran"
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        ORPHANED,
        f"touch {marker}; sleep 30",
        str(worktree),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await server.communicate()
    group = int(out)
    async with asyncio.timeout(10):
        while True:  # the whole sandbox goes away by itself
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                break
            await asyncio.sleep(0.05)
    assert not marker.exists()


@pytest.mark.usefixtures("bubblewrap")
async def test_a_failed_bubblewrap_probe_is_tried_again(
    broken_bwrap: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    problem = await bubblewrap_problem(network=True)
    assert problem is not None and "No permissions" in problem
    # Fixed (here: the broken one is gone from PATH), the next start gets bubblewrap.
    monkeypatch.setenv("PATH", os.environ["PATH"].replace(str(broken_bwrap.parent), ""))
    assert await bubblewrap_problem(network=True) is None
    assert await choose_sandbox("auto", True) == "bubblewrap"


async def test_the_probe_leaves_the_event_loop_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bwrap that answers only once the loop has done something else: a probe that blocked the
    loop would wait for it until its timeout."""
    flag = tmp_path / "loop-ran"
    folder = tmp_path / "slow-bin"
    folder.mkdir()
    fake = folder / "bwrap"
    fake.write_text(
        f"#!/bin/sh\nwhile [ ! -e {flag} ]; do sleep 0.01; done\necho 'bwrap: no' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")

    async def meanwhile() -> None:
        await asyncio.sleep(0.05)
        flag.touch()

    problem, _ = await asyncio.gather(bubblewrap_problem(network=True), meanwhile())
    assert problem == "bubblewrap cannot run here: bwrap: no"


async def test_sandbox_modes_and_refusals() -> None:
    async def works(network: bool) -> str | None:
        return None

    async def no_userns(network: bool) -> str | None:
        return "bubblewrap cannot run here: bwrap: No permissions to create a new namespace"

    async def old_kernel(network: bool) -> str | None:
        return "Landlock is not supported by this kernel (Linux 5.13+ needed)"

    assert await choose_sandbox("none", True) == "none"
    with pytest.raises(InvalidInput, match="unknown sandbox mode"):
        await choose_sandbox("docker", True)
    fallback = {"bubblewrap": no_userns, "landlock": works}
    assert await choose_sandbox("auto", True, fallback) == "landlock"
    # Asking for bubblewrap by name never settles for less.
    with pytest.raises(SandboxUnavailable, match="is 'bubblewrap' but bubblewrap cannot run"):
        await choose_sandbox("bubblewrap", True, fallback)
    # Nothing works: refused, saying why and which setting accepts the risk.
    with pytest.raises(SandboxUnavailable) as refused:
        await choose_sandbox("auto", True, {"bubblewrap": no_userns, "landlock": old_kernel})
    message = refused.value.message
    assert "No permissions" in message and "5.13" in message
    assert "`codality settings set sandbox none`" in message and "install bubblewrap" in message
    assert refused.value.code == "sandbox_unavailable"


def landlocked(
    worktree: Path,
    hidden: Path,
    network: bool = True,
    timeout: float = 10,
    egress: EgressAccess | None = None,
) -> Toolbox:
    env = scrubbed_env(os.environ, set(), ("Ann", "ann@example.com"))
    sandbox = Sandbox("landlock", network, (), (hidden,), env, egress)
    return Toolbox(ToolContext(worktree, sandbox, NoKnowledge(), timeout))


@pytest.fixture
def data_dir_with_worktree(tmp_path: Path) -> tuple[Path, Path]:
    """The server's layout: worktrees live inside the data dir, next to its secrets."""
    data_dir = tmp_path / "data"
    worktree = data_dir / "worktrees" / "proj" / "1"
    worktree.mkdir(parents=True)
    (data_dir / "env").write_text("ANTHROPIC_API_KEY=sk-live\n")
    (data_dir / "secret-key").write_text("very-secret\n")
    (data_dir / "worktrees" / "proj" / "2").mkdir()
    (data_dir / "worktrees" / "proj" / "2" / "other.txt").write_text("another ticket\n")
    (tmp_path / "beside.txt").write_text("readable\n")
    return data_dir, worktree


@pytest.mark.usefixtures("landlock")
async def test_landlock_hides_the_data_dir_and_confines_writes(
    data_dir_with_worktree: tuple[Path, Path], tmp_path: Path
) -> None:
    data_dir, worktree = data_dir_with_worktree
    tools = landlocked(worktree, data_dir)
    ok = await tools.run("bash", {"command": "echo hi > inside.txt && cat inside.txt"})
    assert ok.ok and ok.output == "hi\n" and (worktree / "inside.txt").read_text() == "hi\n"
    for secret in ("env", "secret-key", "worktrees/proj/2/other.txt"):
        hidden = await tools.run("bash", {"command": f"cat {data_dir}/{secret}"})
        assert not hidden.ok and "Permission denied" in hidden.output, secret
    assert not (await tools.run("bash", {"command": f"ls {data_dir}"})).ok
    assert not (await tools.run("bash", {"command": f"echo x > {data_dir}/planted"})).ok
    assert not (data_dir / "planted").exists()
    beside = await tools.run("bash", {"command": f"cat {tmp_path}/beside.txt"})
    assert beside.ok and beside.output == "readable\n"
    assert not (await tools.run("bash", {"command": f"echo x > {tmp_path}/beside.txt"})).ok
    assert not (await tools.run("bash", {"command": "touch /usr/local/nope"})).ok
    shell = await tools.run("bash", {"command": "echo quiet > /dev/null && git --version"})
    assert shell.ok and shell.output.startswith("git version")


@pytest.mark.usefixtures("landlock")
async def test_landlock_keeps_the_server_process_out_of_reach(
    data_dir_with_worktree: tuple[Path, Path],
) -> None:
    """Its environment (where exported keys live) cannot be read, nor can it be signalled."""
    data_dir, worktree = data_dir_with_worktree
    tools = landlocked(worktree, data_dir)
    environ = await tools.run("bash", {"command": f"cat /proc/{os.getpid()}/environ"})
    assert not environ.ok and "Permission denied" in environ.output
    open_files = await tools.run("bash", {"command": f"ls -l /proc/{os.getpid()}/fd/"})
    assert str(data_dir) not in open_files.output


async def test_landlock_cannot_signal_the_server_and_connects_only_where_let(
    landlock: int, data_dir_with_worktree: tuple[Path, Path]
) -> None:
    if landlock < 6:
        pytest.skip(f"signal scoping needs Landlock ABI 6 (this kernel: {landlock})")
    data_dir, worktree = data_dir_with_worktree
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        # A host port the setting names is reachable (the proxy's port here is another one).
        egress = EgressAccess(Path("/nonexistent"), port + 1 if port < 65535 else 1, (port,))
        online = landlocked(worktree, data_dir, egress=egress)
        connect = f"import socket; socket.create_connection(('127.0.0.1', {port}))"
        probe = f'{sys.executable} -c "{connect}"'
        assert (await online.run("bash", {"command": probe})).ok
        for cut_off in (
            landlocked(worktree, data_dir, network=False),
            landlocked(worktree, data_dir, egress=EgressAccess(egress.socket_path, egress.port)),
        ):
            cut = await cut_off.run("bash", {"command": probe})
            assert not cut.ok and "Permission denied" in cut.output
        signal = await online.run("bash", {"command": f"kill -0 {os.getpid()}"})
        assert not signal.ok and "not permitted" in signal.output
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.usefixtures("landlock")
async def test_landlock_that_cannot_apply_its_rules_runs_nothing(
    data_dir_with_worktree: tuple[Path, Path],
) -> None:
    data_dir, worktree = data_dir_with_worktree
    tools = landlocked(worktree, data_dir, timeout=10)
    # The server is not this shell's parent: the helper refuses (exit 125), nothing runs.
    assert tools.context is not None
    sandbox = tools.context.need_sandbox()
    argv = sandbox.argv(f"touch {worktree}/ran", worktree)
    argv[argv.index("--parent") + 1] = "1"
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=worktree, stderr=asyncio.subprocess.PIPE, env=sandbox.env
    )
    _, err = await process.communicate()
    assert process.returncode == 125 and b"landlock" in err
    assert not (worktree / "ran").exists()
