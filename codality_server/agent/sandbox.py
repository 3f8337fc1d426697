"""Where the agent's shell commands run: under bubblewrap when it works, otherwise on the host.

Under bubblewrap the whole system is read-only, the worktree (and the repository's git dir, so
commits work) is writable, ``/tmp`` is private, the server's data dir is hidden, the command has
its own PID namespace and dies with the server, and the network is cut when the setting says so.
Either way the command gets its own process group, so stopping a session kills everything it
started, and the environment is scrubbed of the server's secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

from codality_server.domain.errors import InvalidInput

SandboxKind = Literal["bubblewrap", "none"]

_SECRET_NAME = re.compile(
    r"^(ANTHROPIC_|GITHUB_|GH_|SMTP_|CODALITY_TOKEN)|(TOKEN|SECRET|PASSWORD|API_KEY|PRIVATE_KEY)",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def bubblewrap_works() -> bool:
    """Whether ``bwrap`` exists and can create its namespaces here (containers often forbid it)."""
    path = shutil.which("bwrap")
    if path is None:
        return False
    probe = [path, "--ro-bind", "/", "/", "--unshare-pid", "--die-with-parent", "true"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def scrubbed_env(
    base: Mapping[str, str], secret_names: Iterable[str], identity: tuple[str, str]
) -> dict[str, str]:
    """``base`` without anything secret, plus the user's git identity for author and committer."""
    hidden = set(secret_names)
    env = {k: v for k, v in base.items() if k not in hidden and not _SECRET_NAME.search(k)}
    name, email = identity
    env.update(
        GIT_AUTHOR_NAME=name,
        GIT_AUTHOR_EMAIL=email,
        GIT_COMMITTER_NAME=name,
        GIT_COMMITTER_EMAIL=email,
        GIT_TERMINAL_PROMPT="0",
        TERM="dumb",
        PAGER="cat",
        GIT_PAGER="cat",
    )
    return env


@dataclass(frozen=True)
class Sandbox:
    """How to wrap one shell command; ``kind`` is what the session records."""

    kind: SandboxKind
    network: bool = True
    writable: tuple[Path, ...] = ()
    hidden: tuple[Path, ...] = ()
    env: dict[str, str] = field(default_factory=dict)

    def argv(self, script: str, cwd: Path) -> list[str]:
        shell = ["/bin/sh", "-c", script]
        if self.kind == "none":
            return shell
        argv = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        argv += ["--tmpfs", "/tmp"]
        for path in self.hidden:
            argv += ["--tmpfs", str(path)]
        for path in (cwd, *self.writable):
            argv += ["--bind", str(path), str(path)]
        argv += ["--chdir", str(cwd), "--unshare-pid", "--die-with-parent"]
        if not self.network:
            argv.append("--unshare-net")
        return [*argv, "--", *shell]


def choose_sandbox(
    mode: str,
    network: bool,
    writable: Iterable[Path],
    hidden: Iterable[Path],
    env: dict[str, str],
) -> Sandbox:
    """The sandbox for a session from the ``sandbox`` setting (``auto|bubblewrap|none``)."""
    if mode not in ("auto", "bubblewrap", "none"):
        raise InvalidInput(f"unknown sandbox mode {mode!r}", field="sandbox")
    kind: SandboxKind = "none"
    if mode != "none" and bubblewrap_works():
        kind = "bubblewrap"
    elif mode == "bubblewrap":
        raise InvalidInput(
            "the sandbox setting is 'bubblewrap' but bwrap is not available here", field="sandbox"
        )
    return Sandbox(kind, network, tuple(writable), tuple(hidden), env)


@dataclass(frozen=True)
class CommandResult:
    exit_code: int | None
    output: str
    timed_out: bool


class CappedBuffer:
    """Keeps the head and the tail of a stream within ``limit`` bytes, counting what was cut."""

    def __init__(self, limit: int) -> None:
        self.half = limit // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            del self.tail[: max(0, len(self.tail) - self.half)]

    def text(self) -> str:
        cut = self.total - len(self.head) - len(self.tail)
        head = self.head.decode("utf-8", "replace")
        if cut <= 0:
            return head + self.tail.decode("utf-8", "replace")
        marker = f"\n[… {cut} bytes of output omitted …]\n"
        return head + marker + self.tail.decode("utf-8", "replace")


def kill_group(process: asyncio.subprocess.Process) -> None:
    """SIGKILL the command's whole process group (it leads its own session)."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


async def run_command(
    sandbox: Sandbox, script: str, cwd: Path, timeout_s: float, limit: int
) -> CommandResult:
    """Run ``script``; a timeout or a cancellation kills the process group before returning."""
    process = await asyncio.create_subprocess_exec(
        *sandbox.argv(script, cwd),
        cwd=str(cwd),
        env=sandbox.env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    buffer = CappedBuffer(limit)

    async def pump() -> None:
        assert process.stdout is not None
        while chunk := await process.stdout.read(65536):
            buffer.feed(chunk)
        await process.wait()

    timed_out = False
    try:
        await asyncio.wait_for(pump(), timeout_s)
    except TimeoutError:
        timed_out = True
    finally:
        kill_group(process)
        await asyncio.shield(process.wait())
    return CommandResult(None if timed_out else process.returncode, buffer.text(), timed_out)
