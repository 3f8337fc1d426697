"""Where the agent's shell commands run, and how they are kept away from the server's secrets.

``sandbox: auto`` (the default) runs each command under bubblewrap when it works here, otherwise
under Landlock (Linux 6.7+, no privileges needed, so it works in most containers), and refuses
to start the agent when neither does: the error says how to fix it, and that the setting
``sandbox: none`` accepts running commands on the host unconfined. It never falls back to the
host silently. ``sandbox: bubblewrap`` insists on bubblewrap.

Under bubblewrap the whole system is read-only, the worktree is writable but for its ``.git``
file, ``/tmp`` is private, the server's data dir and the user's credential stores
(``secret_paths``) are hidden, the command has its own PID namespace and no capabilities (even
when the server runs as root), ``no_new_privs`` keeps it from gaining any (setuid programs
included), it dies with the server, and it has its own network namespace: with
``sandbox_network`` on, the only way out is the server's egress proxy (``egress.py``), which
refuses the server, loopback and private addresses; off, nothing at all. The git
metadata is read-only: the server commits the agent's work, the agent only reads git.
Under Landlock (see ``landlock.py``) the same paths are unreadable and the worktree writable
(plus the shared ``/tmp`` when it holds neither the data dir nor the repository's git dir); it
cannot keep the worktree's ``.git`` file read-only, so the server puts it back after every
command. The command cannot signal or trace the server, may connect over TCP only to the egress
proxy's port and the ``sandbox_host_ports`` (to nothing when the network is off), and it dies with
the server, but it shares the host's process table. Either way the command gets its own process
group, so stopping a session kills everything it started, and the environment is scrubbed of the
server's secrets.

Probes run as asynchronous subprocesses, so they never block the event loop; a probe that worked
is remembered for the process's life, one that failed is tried again at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from codality_server.agent.egress import EgressAccess
from codality_server.domain.errors import Conflict, InvalidInput

SandboxKind = Literal["bubblewrap", "landlock", "none"]
MODES = ("auto", "bubblewrap", "none")
LANDLOCK_SCRIPT = Path(__file__).with_name("landlock.py")
FORWARDER_SCRIPT = Path(__file__).with_name("forwarder.py")
PROXY_PORT = 3128  # where HTTP(S)_PROXY point inside a bubblewrap sandbox
# Writable scratch space besides the worktree (dropped under Landlock when it holds the data dir).
_SCRATCH = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"))
_PROBE_TIMEOUT_S = 10.0
_POINTER_LIMIT = 64 * 1024
POINTER_RESTORED = "[the worktree's .git file was changed; the server put it back]"
ACCEPT_RISK = (
    "or let the agent's commands run unconfined on this machine, able to read the server's data "
    "dir and secrets, with `codality settings set sandbox none`"
)

_SECRET_NAME = re.compile(
    r"^(ANTHROPIC_|GITHUB_|GH_|SMTP_|CODALITY_TOKEN|DBUS_SESSION_BUS_ADDRESS$|GPG_AGENT_INFO$)"
    r"|(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|PRIVATE_KEY|CREDENTIAL|AUTH_SOCK)",
    re.IGNORECASE,
)
# The user's credential stores under HOME, hidden from every command: whoever controls the agent
# (a prompt injection in a file, a CI log, a stranger's comment) must not act as the user.
HOME_SECRETS = (
    ".ssh",
    ".gnupg",
    ".netrc",
    ".git-credentials",
    ".aws",
    ".azure",
    ".docker",
    ".kube",
    ".pypirc",
    ".npmrc",
    ".yarnrc.yml",
    ".gem/credentials",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".m2/settings.xml",
    ".gradle/gradle.properties",
    ".terraform.d/credentials.tfrc.json",
    ".vault-token",
    ".password-store",
)
# The same under ``XDG_CONFIG_HOME`` (``~/.config``), and under ``XDG_DATA_HOME``.
CONFIG_SECRETS = (
    "codality",  # the CLI's credentials.json and config
    "git/credentials",
    "gh",
    "hub",
    "gcloud",
    "containers",  # podman's auth.json
    "rclone",
)
DATA_SECRETS = ("codality", "keyrings")
# Sockets of daemons that would run anything as their (root) user.
SYSTEM_SECRETS = (
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/podman",
    "/run/containerd",
    "/run/user",  # the session's agents (ssh, gpg, keyring) and podman's auth.json
)


class SandboxUnavailable(Conflict):
    """The ``sandbox`` setting cannot be honoured on this machine (409)."""

    code = "sandbox_unavailable"


def sandbox_kind(value: str) -> SandboxKind:
    """A recorded kind read back (the sessions table stores plain text)."""
    for kind in get_args(SandboxKind):
        if value == kind:
            return kind  # type: ignore[no-any-return]
    raise InvalidInput(f"unknown sandbox kind {value!r}", field="sandbox")


_proven: set[tuple[str, ...]] = set()


async def _problem(argv: list[str]) -> str | None:
    """None when ``argv`` runs and exits 0, otherwise what went wrong. Only a success is
    remembered: a failure may be fixed (bwrap installed, a sysctl changed) by the next start."""
    key = tuple(argv)
    if key in _proven:
        return None
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        return exc.strerror or str(exc)
    try:
        _, err = await asyncio.wait_for(process.communicate(), _PROBE_TIMEOUT_S)
    except TimeoutError:
        kill_group(process)
        await process.wait()
        return f"its test run took longer than {_PROBE_TIMEOUT_S:g} s"
    if process.returncode == 0:
        _proven.add(key)
        return None
    lines = err.decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else f"its test run exited with code {process.returncode}"


async def bubblewrap_problem(network: bool) -> str | None:
    """Why bubblewrap cannot run a command here (with this network setting), or None."""
    path = shutil.which("bwrap")
    if path is None:
        return "bubblewrap (bwrap) is not installed"
    probe = Sandbox("bubblewrap", network).argv("true", Path(tempfile.gettempdir()))
    problem = await _problem([path, *probe[1:]])
    return None if problem is None else f"bubblewrap cannot run here: {problem}"


async def landlock_problem(network: bool) -> str | None:
    """Why Landlock cannot confine a command here (with this network setting), or None."""
    if not sys.platform.startswith("linux"):
        return "Landlock needs Linux"
    problem = await _problem(Sandbox("landlock", network).argv("true", Path(tempfile.gettempdir())))
    return None if problem is None else problem.removeprefix("codality sandbox (landlock): ")


Probe = Callable[[bool], Awaitable[str | None]]
PROBES: Mapping[str, Probe] = {
    "bubblewrap": bubblewrap_problem,
    "landlock": landlock_problem,
}


async def choose_sandbox(
    mode: str, network: bool, probes: Mapping[str, Probe] = PROBES
) -> SandboxKind:
    """The kind of sandbox a session gets from the ``sandbox`` setting (``auto|bubblewrap|none``);
    raises ``SandboxUnavailable`` rather than run commands unconfined that were not meant to."""
    if mode not in MODES:
        raise InvalidInput(f"unknown sandbox mode {mode!r}", field="sandbox")
    if mode == "none":
        return "none"
    bubblewrap = await probes["bubblewrap"](network)
    if bubblewrap is None:
        return "bubblewrap"
    install = "install bubblewrap (and allow unprivileged user namespaces)"
    if mode == "bubblewrap":
        raise SandboxUnavailable(
            f"the sandbox setting is 'bubblewrap' but {bubblewrap}; {install}, use "
            f"`codality settings set sandbox auto` to allow Landlock instead, {ACCEPT_RISK}"
        )
    landlock = await probes["landlock"](network)
    if landlock is None:
        return "landlock"
    raise SandboxUnavailable(
        f"no sandbox can run the agent's commands here ({bubblewrap}; Landlock: {landlock}); "
        f"{install}, {ACCEPT_RISK}"
    )


def secret_paths(
    data_dir: Path, extra: Iterable[str] = (), environ: Mapping[str, str] = os.environ
) -> tuple[Path, ...]:
    """What no command may read: the server's data dir, the user's credential stores, daemons'
    sockets and the ``sandbox_hidden_paths`` setting's own (``~`` is the server's HOME)."""
    home = Path(environ.get("HOME") or Path.home())
    config = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    data = Path(environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    paths = [data_dir, *(home / p for p in HOME_SECRETS), *(config / p for p in CONFIG_SECRETS)]
    paths += [data / p for p in DATA_SECRETS]
    paths += [Path(p) for p in SYSTEM_SECRETS]
    for name in ("XDG_RUNTIME_DIR", "SSH_AUTH_SOCK", "GOOGLE_APPLICATION_CREDENTIALS"):
        if environ.get(name, "").startswith("/"):
            paths.append(Path(environ[name]))
    paths += [Path(home / p[2:] if p.startswith("~/") else p) for p in extra]
    return tuple(dict.fromkeys(paths))


def _present(paths: Iterable[Path]) -> list[Path]:
    """The paths that exist, resolved, none inside another (hiding the outer one hides it)."""
    found = sorted({Path(os.path.realpath(p)) for p in paths if os.path.lexists(p)})
    return [p for i, p in enumerate(found) if not any(p.is_relative_to(q) for q in found[:i])]


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
    #: Readable, never writable (the repository's git dir: its hooks and config run later on the
    #: host); under Landlock a scratch dir holding one is not writable either.
    read_only: tuple[Path, ...] = ()
    hidden: tuple[Path, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    #: The way out when ``network`` is on; without it the command is offline.
    egress: EgressAccess | None = None

    def argv(self, script: str, cwd: Path, gate: _Gate | None = None) -> list[str]:
        shell = ["/bin/sh", "-c", script] if gate is None else gate.shell(script)
        if self.kind == "none":
            return shell
        if self.kind == "landlock":
            return [*self._landlock(cwd), "--", *shell]
        argv = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        argv += ["--tmpfs", "/tmp"]
        for path in _present(self.hidden):
            if path.is_dir():
                argv += ["--tmpfs", str(path)]  # an empty folder, its writes lost with the command
            else:
                argv += ["--ro-bind", "/dev/null", str(path)]
        argv += ["--bind", str(cwd), str(cwd)]
        for path in (cwd / ".git", *self.read_only):  # bound after the worktree, over it
            if os.path.lexists(path):
                argv += ["--ro-bind", str(path), str(path)]
        # A root server's bwrap keeps every capability unless told (bwrap sets no_new_privs).
        argv += ["--chdir", str(cwd), "--unshare-pid", "--cap-drop", "ALL", "--die-with-parent"]
        # Its own network namespace always: only loopback, the way out is the egress proxy.
        argv.append("--unshare-net")
        egress = self.egress if self.network else None
        if egress is None:
            return [*argv, "--", *shell]
        socket_path = str(egress.socket_path)
        argv += ["--bind", socket_path, socket_path, "--"]
        argv += [sys.executable, "-I", "-S", str(FORWARDER_SCRIPT), "--socket", socket_path]
        argv += ["--proxy-port", str(PROXY_PORT)]
        for port in egress.host_ports:
            if port != PROXY_PORT:
                argv += ["--host-port", str(port)]
        return [*argv, "--", *shell]

    def environment(self) -> dict[str, str]:
        """The command's environment: ``env``, and the proxy when the network is on."""
        egress = self.egress if self.network and self.kind != "none" else None
        if egress is None:
            return self.env
        port = PROXY_PORT if self.kind == "bubblewrap" else egress.port
        proxy = f"http://127.0.0.1:{port}"
        names = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
        return {**self.env, **dict.fromkeys(names, proxy), "NO_PROXY": "", "no_proxy": ""}

    def _landlock(self, cwd: Path) -> list[str]:
        """The helper that applies the rules in the command's own process, then ``exec``s it."""
        argv = [sys.executable, "-I", "-S", str(LANDLOCK_SCRIPT), "--parent", str(os.getpid())]
        for path in _present(self.hidden):
            argv += ["--hide", str(path)]
        for path in self.read_only:
            argv += ["--protect", str(path)]
        for path in (cwd, *_SCRATCH):
            argv += ["--write", str(path)]
        egress = self.egress if self.network else None
        if egress is None:
            argv.append("--no-network")
        else:  # Landlock rules name ports, not addresses: the proxy's, and the host ports
            for port in (egress.port, *egress.host_ports):
                argv += ["--connect", str(port)]
        return argv


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


class _Gate:
    """Holds a bubblewrap command back until the whole sandbox is bound to the server's life.

    With ``--die-with-parent`` the sandbox's first process asks for its parent-death signal only
    after its set-up (mounts and all), when bwrap outside may already be gone with a server
    killed meanwhile; nothing would then kill it (bubblewrap 0.8). So the command's shell first
    says it is up (by then the ask is made), and runs the command only when the server, alive
    at that moment, answers; a server gone before answering closes the pipe and the shell exits
    125 instead. The pipes are reached through ``/proc/self/fd`` (dash knows fds 0–9 only).
    """

    def __init__(self) -> None:
        self.ready_r, self.ready_w = os.pipe()
        self.go_r, self.go_w = os.pipe()

    @property
    def child_ends(self) -> tuple[int, int]:
        return self.ready_w, self.go_r

    def shell(self, script: str) -> list[str]:
        prologue = (
            f"printf . > /proc/self/fd/{self.ready_w} && "
            f"read -r _ < /proc/self/fd/{self.go_r} || exit 125; "
            'exec /bin/sh -c "$1"'
        )
        return ["/bin/sh", "-c", prologue, "sh", script]

    def started(self) -> None:
        """The child has its copies: drop ours, so each pipe ends when its other side does."""
        for fd in self.child_ends:
            os.close(fd)

    async def open(self) -> None:
        """Wait until the shell is up (or bwrap gone), then tell it to run the command."""
        loop = asyncio.get_running_loop()
        up = loop.create_future()

        def readable() -> None:
            try:
                os.read(self.ready_r, 1)
            except BlockingIOError:
                return
            if not up.done():
                up.set_result(None)

        os.set_blocking(self.ready_r, False)
        loop.add_reader(self.ready_r, readable)
        try:
            await up
        finally:
            loop.remove_reader(self.ready_r)
        with contextlib.suppress(BrokenPipeError):  # bwrap failed and is gone
            os.write(self.go_w, b"go\n")

    def close(self) -> None:
        for fd in (self.ready_r, self.go_w):
            with contextlib.suppress(OSError):
                os.close(fd)


def git_pointer(worktree: Path) -> bytes | None:
    """The worktree's ``.git`` file, None when it is not a regular file."""
    try:
        fd = os.open(worktree / ".git", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        return file.read(_POINTER_LIMIT) if stat.S_ISREG(os.fstat(fd).st_mode) else None


def restore_git_pointer(worktree: Path, pointer: bytes) -> bool:
    """Put the worktree's ``.git`` file back when a command changed it (Landlock cannot keep a file
    inside a writable folder read-only); True when it had. Whatever took its place (a file, a
    link, a folder with its own config and hooks) is removed without following links."""
    if git_pointer(worktree) == pointer:
        return False
    path = worktree / ".git"
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as file:
        file.write(pointer)
    return True


async def run_command(
    sandbox: Sandbox, script: str, cwd: Path, timeout_s: float, limit: int
) -> CommandResult:
    """Run ``script``; a timeout or a cancellation kills the process group before returning. A
    changed ``.git`` file is put back (and said so): the agent reads git, it never redirects it."""
    pointer = git_pointer(cwd)
    gate = _Gate() if sandbox.kind == "bubblewrap" else None
    try:
        process = await asyncio.create_subprocess_exec(
            *sandbox.argv(script, cwd, gate),
            cwd=str(cwd),
            env=sandbox.environment(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            pass_fds=gate.child_ends if gate else (),
        )
    except BaseException:
        if gate is not None:
            gate.started()
            gate.close()
        raise
    if gate is not None:
        gate.started()
    buffer = CappedBuffer(limit)

    async def pump() -> None:
        assert process.stdout is not None
        if gate is not None:
            await gate.open()
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
        if gate is not None:
            gate.close()
        restored = pointer is not None and await asyncio.to_thread(
            restore_git_pointer, cwd, pointer
        )
    output = buffer.text()
    if restored:
        output += f"\n{POINTER_RESTORED}"
    return CommandResult(None if timed_out else process.returncode, output, timed_out)
