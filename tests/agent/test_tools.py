"""Each tool's limits and confinement, on real files and real processes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from codality_server.agent.sandbox import Sandbox, bubblewrap_works, choose_sandbox, scrubbed_env
from codality_server.agent.tools import Toolbox, ToolContext


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
    env = scrubbed_env(os.environ, {"CUSTOM_THING"}, ("Ann", "ann@example.com"))
    tools = Toolbox(ToolContext(worktree, Sandbox("none", True, (), (), env), NoKnowledge(), 5))
    out = (await tools.run("bash", {"command": "env"})).output
    assert "GIT_AUTHOR_NAME=Ann" in out and "GIT_COMMITTER_EMAIL=ann@example.com" in out
    for secret in ("sk-live", "ghp-live", "hunter2", "ANTHROPIC_API_KEY"):
        assert secret not in out


needs_bwrap = pytest.mark.skipif(not bubblewrap_works(), reason="bubblewrap cannot run here")


@needs_bwrap
async def test_bubblewrap_confines_writes_and_hides_the_data_dir(
    worktree: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "env").write_text("ANTHROPIC_API_KEY=sk-live\n")
    env = scrubbed_env(os.environ, set(), ("Ann", "ann@example.com"))
    sandbox = choose_sandbox("bubblewrap", True, (), (data_dir,), env)
    assert sandbox.kind == "bubblewrap"
    tools = Toolbox(ToolContext(worktree, sandbox, NoKnowledge(), 10))
    ok = await tools.run("bash", {"command": "echo hi > inside.txt && cat inside.txt && echo $$"})
    assert ok.ok and ok.output.split()[0] == "hi"
    assert (worktree / "inside.txt").read_text() == "hi\n"
    # /tmp is private: a write there never reaches the host's /tmp.
    await tools.run("bash", {"command": f"echo x > {tmp_path}/outside.txt"})
    assert not (tmp_path / "outside.txt").exists()
    assert not (await tools.run("bash", {"command": "touch /var/tmp/codality-probe"})).ok
    assert not (await tools.run("bash", {"command": "touch /usr/local/nope"})).ok
    hidden = await tools.run("bash", {"command": f"cat {data_dir}/env"})
    assert not hidden.ok and "sk-live" not in hidden.output
    private = await tools.run("bash", {"command": "touch /tmp/mine && ls /tmp"})
    assert private.ok and "mine" in private.output.split()
    assert not Path("/tmp/mine").exists()
    pids = await tools.run("bash", {"command": "ls /proc | grep -c '^[0-9]'"})
    assert int(pids.output.strip()) < 6  # its own PID namespace


@needs_bwrap
async def test_bubblewrap_can_cut_the_network(worktree: Path) -> None:
    env = scrubbed_env(os.environ, set(), ("Ann", "ann@example.com"))
    offline = choose_sandbox("auto", False, (), (), env)
    tools = Toolbox(ToolContext(worktree, offline, NoKnowledge(), 10))
    out = await tools.run("bash", {"command": "cat /proc/net/dev | tail -n +3 | cut -d: -f1"})
    assert out.ok and out.output.split() == ["lo"]


def test_sandbox_modes() -> None:
    assert choose_sandbox("none", True, (), (), {}).kind == "none"
    with pytest.raises(Exception, match="unknown sandbox mode"):
        choose_sandbox("docker", True, (), (), {})
