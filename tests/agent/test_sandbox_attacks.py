"""Issue 19's attacks on the sandbox, each tried for real under bubblewrap and Landlock.

Every secret lives outside ``/tmp`` (the sandbox's private ``/tmp`` would hide it whatever the code
does), and each attack is first shown to work with ``sandbox none`` in the same test: the control
that makes "it fails when confined" mean something.
"""

from __future__ import annotations

import os
from pathlib import Path

from codality_server.agent.sandbox import (
    CommandResult,
    Sandbox,
    SandboxKind,
    run_command,
    scrubbed_env,
)

IDENTITY = ("Ann", "ann@example.com")


def make_data_dir(root: Path) -> tuple[Path, Path]:
    """The server's layout: the data dir with its secrets, a worktree inside it."""
    data_dir = root / "data"
    worktree = data_dir / "worktrees" / "proj" / "1"
    worktree.mkdir(parents=True)
    (data_dir / "env").write_text("ANTHROPIC_API_KEY=sk-live\n")
    return data_dir, worktree


async def run(
    kind: SandboxKind, command: str, worktree: Path, hidden: tuple[Path, ...] = ()
) -> CommandResult:
    env = scrubbed_env(os.environ, set(), IDENTITY)
    sandbox = Sandbox(kind, True, (), hidden, env)
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
