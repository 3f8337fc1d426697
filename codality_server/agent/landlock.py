"""Run a command under Landlock: readable everywhere but the hidden paths, writable only where told.

The fallback sandbox for machines where bubblewrap cannot create namespaces (most containers):
Landlock needs no privileges and no namespaces, only a Linux kernel of 6.7 or later (Landlock
ABI 4, which controls TCP). It is run
as a script of its own (``python -I -S landlock.py --hide D --write W -- argv…``), so the rules
are applied in a fresh process that then ``exec``s the command; the server never restricts
itself and never runs Python code between ``fork`` and ``exec``. It imports the standard library
only, for a fast start.

Landlock only grants, so hiding a directory means granting read access to everything around it:
each entry of every ancestor of a hidden path, except the next step towards it. The ancestors
themselves cannot be listed (a grant on a directory covers all beneath it). On top of that the
command cannot ``ptrace`` or read ``/proc/PID/environ`` of processes outside its domain (the
server's; a root server's commands lose every capability first, as ``CAP_SYS_PTRACE`` would
open that door again), cannot signal them (ABI 6), may connect over TCP only to the ports it is
given (the egress proxy's; none when the network is cut; ABI 4, so Linux 6.7), and its shell
is killed when the server dies. If any of it cannot be set up, the command does not run: exit
125 with the reason.
"""

from __future__ import annotations

import ctypes
import os
import stat
import sys
from collections.abc import Callable

# Landlock came after the syscall tables were unified: the same numbers on x86-64, arm64, riscv…
_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2
_PR_SET_PDEATHSIG, _PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS = 1, 24, 38
_CAPABILITY_VERSION_3 = 0x20080522
_SIGKILL = 9

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE = 1 << 13, 1 << 14  # ABI 2, ABI 3
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

FAILED = 125
# Devices a shell writes to all the time (``> /dev/null``).
_WRITABLE_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/tty")


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPortAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


class LandlockError(Exception):
    """Why the rules could not be applied; the command is then not run."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _call(function: Callable[..., int], *args: object) -> int:
    """Call a variadic libc function (``syscall``, ``prctl``) with every int as a C long."""
    converted = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    return int(function(*converted))


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise LandlockError(f"{what}: {os.strerror(errno)}")
    return result


def abi_version() -> int:
    """The kernel's Landlock ABI, 0 when it has none (too old, or Landlock not enabled)."""
    if not sys.platform.startswith("linux"):
        return 0
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    return max(_call(libc.syscall, _CREATE_RULESET, None, 0, _CREATE_RULESET_VERSION), 0)


def _rights(abi: int) -> tuple[int, int, int]:
    """(every filesystem right handled, read rights, rights that make sense on a file)."""
    everything = (1 << 13) - 1
    file_only = EXECUTE | WRITE_FILE | READ_FILE
    if abi >= 2:
        everything |= REFER
    if abi >= 3:
        everything |= TRUNCATE
        file_only |= TRUNCATE
    return everything, EXECUTE | READ_FILE | READ_DIR, file_only


def _contains(parent: str, child: str) -> bool:
    return child == parent or child.startswith(parent.rstrip("/") + "/")


def plan(
    hidden: list[str], writable: list[str], protected: tuple[str, ...] | list[str] = ()
) -> list[tuple[str, str]]:
    """The grants as (absolute path, "read" | "write"): everything readable but ``hidden``, and
    ``writable`` (never one that would expose a hidden path or make a ``protected`` one
    writable: a grant covers everything beneath it)."""
    grants: list[tuple[str, str]] = []

    def around(directory: str) -> None:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            return
        for name in names:
            path = os.path.join(directory, name)
            if os.path.islink(path):
                continue  # a link is checked where it leads
            if any(_contains(path, h) for h in hidden):
                if path not in hidden and os.path.isdir(path):
                    around(path)
                continue
            grants.append((path, "read"))

    if hidden:
        around("/")
    else:
        grants.append(("/", "read"))
    kept_out = [*hidden, *protected]
    for path in writable:
        if os.path.exists(path) and not any(_contains(path, k) for k in kept_out):
            grants.append((path, "write"))
    grants += [(device, "write") for device in _WRITABLE_DEVICES if os.path.exists(device)]
    return grants


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_capabilities() -> None:
    """Run as an ordinary user even when the server is root: with ``CAP_SYS_PTRACE`` a command
    could still read the server's ``/proc/PID/environ`` through Landlock."""
    libc = _libc()
    for cap in range(64):  # empty the bounding set, so running a program cannot regain them
        if _call(libc.prctl, _PR_CAPBSET_DROP, cap, 0, 0, 0) < 0:
            if ctypes.get_errno() == 22:  # EINVAL: past the last capability
                break
            _check(-1, f"prctl(CAPBSET_DROP, {cap})")
    header = _CapHeader(version=_CAPABILITY_VERSION_3, pid=0)
    nothing = (_CapData * 2)()  # effective, permitted and inheritable all empty
    _check(libc.capset(ctypes.byref(header), nothing), "capset")


def restrict(
    hidden: list[str],
    writable: list[str],
    protected: list[str],
    network: bool,
    connect: tuple[int, ...] | list[int] = (),
) -> None:
    """Apply the rules to this process (and everything it runs from now on). TCP is always
    controlled: no connection at all without ``network``, else to the ``connect`` ports only."""
    abi = abi_version()
    if abi < 1:
        raise LandlockError("Landlock is not supported by this kernel (Linux 5.13+ needed)")
    if abi < 4:
        raise LandlockError("this kernel's Landlock cannot control TCP (ABI 4, Linux 6.7, needed)")
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    everything, read, file_only = _rights(abi)
    attr = _RulesetAttr(handled_access_fs=everything)
    attr.handled_access_net = NET_CONNECT_TCP if network else NET_BIND_TCP | NET_CONNECT_TCP
    size = 16
    if abi >= 6:
        attr.scoped = SCOPE_SIGNAL | SCOPE_ABSTRACT_UNIX_SOCKET
        size = 24
    ruleset = _check(
        _call(libc.syscall, _CREATE_RULESET, ctypes.byref(attr), size, 0),
        "landlock_create_ruleset",
    )
    try:
        for path, kind in plan(hidden, writable, protected):
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # gone meanwhile: nothing to grant
            try:
                allowed = everything if kind == "write" else read
                if not stat.S_ISDIR(os.fstat(fd).st_mode):
                    allowed &= file_only
                rule = ctypes.byref(_PathBeneathAttr(allowed_access=allowed, parent_fd=fd))
                added = _call(libc.syscall, _ADD_RULE, ruleset, _RULE_PATH_BENEATH, rule, 0)
                _check(added, f"landlock_add_rule({path})")
            finally:
                os.close(fd)
        for port in connect if network else []:
            rule = ctypes.byref(_NetPortAttr(allowed_access=NET_CONNECT_TCP, port=port))
            added = _call(libc.syscall, _ADD_RULE, ruleset, _RULE_NET_PORT, rule, 0)
            _check(added, f"landlock_add_rule(port {port})")
        _check(_call(libc.prctl, _PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
        _check(_call(libc.syscall, _RESTRICT_SELF, ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)


class _Arguments:
    """What the server asked for (a plain class: ``dataclasses`` would slow every start)."""

    def __init__(self) -> None:
        self.hidden: list[str] = []
        self.writable: list[str] = []
        self.protected: list[str] = []
        self.connect: list[int] = []
        self.network = True
        self.parent = 0
        self.command: list[str] = []


def _arguments(argv: list[str]) -> _Arguments:
    """``[--hide P]… [--write P]… [--protect P]… [--no-network | --connect PORT…] [--parent PID]
    -- COMMAND…``."""
    parsed = _Arguments()
    lists = {"--hide": parsed.hidden, "--write": parsed.writable, "--protect": parsed.protected}
    rest = list(argv)
    while rest and rest[0] != "--":
        flag = rest.pop(0)
        if flag == "--no-network":
            parsed.network = False
        elif flag == "--parent" and rest:
            parsed.parent = int(rest.pop(0))
        elif flag == "--connect" and rest:
            parsed.connect.append(int(rest.pop(0)))
        elif flag in lists and rest:
            lists[flag].append(os.path.realpath(rest.pop(0)))
        else:
            raise LandlockError(f"unexpected argument {flag!r}")
    if len(rest) < 2:
        raise LandlockError("no command after --")
    parsed.command = rest[1:]
    return parsed


def main(argv: list[str]) -> int:
    try:
        args = _arguments(argv)
        libc = _libc()
        _check(_call(libc.prctl, _PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
        if args.parent and os.getppid() != args.parent:
            raise LandlockError("the server is gone")
        if os.geteuid() == 0:
            drop_capabilities()
        restrict(args.hidden, args.writable, args.protected, args.network, args.connect)
    except (LandlockError, ValueError) as exc:
        print(f"codality sandbox (landlock): {exc}", file=sys.stderr)
        return FAILED
    try:
        os.execvp(args.command[0], args.command)
    except OSError as exc:
        print(f"codality sandbox (landlock): cannot run {args.command[0]}: {exc}", file=sys.stderr)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
