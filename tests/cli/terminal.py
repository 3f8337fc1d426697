"""A real process on a pseudo-terminal of a chosen size: what a person at a terminal sees."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import termios
import time

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal:
    """A child process on a pty (its controlling terminal): type into it, read what it shows."""

    def __init__(
        self, argv: list[str], env: dict[str, str], size: tuple[int, int] = (80, 24)
    ) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: the pty is its terminal, sized before anything runs
            columns, rows = size
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
            os.execvpe(argv[0], argv, env)
        self.pid, self.fd = pid, fd
        self.seen = ""

    def _read(self, timeout: float) -> str:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return ""
        try:
            chunk = os.read(self.fd, 4096).decode(errors="replace")
        except OSError:
            chunk = ""
        if not chunk:
            raise EOFError
        return ANSI.sub("", chunk).replace("\r", "")

    def expect(self, wanted: str, timeout: float = 20) -> str:
        """Read until ``wanted`` shows (escape codes and carriage returns dropped)."""
        deadline = time.monotonic() + timeout
        while wanted not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{wanted!r} never showed; the terminal shows:\n{self.seen}")
            try:
                self.seen += self._read(left)
            except EOFError:
                raise AssertionError(f"the process ended before {wanted!r}:\n{self.seen}") from None
        at = self.seen.index(wanted) + len(wanted)
        shown, self.seen = self.seen[:at], self.seen[at:]
        return shown

    def output(self, timeout: float = 30) -> str:
        """Everything it shows until it ends."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.seen += self._read(deadline - time.monotonic())
            except EOFError:
                shown, self.seen = self.seen, ""
                return shown
        raise AssertionError(f"the process did not end; it shows:\n{self.seen}")

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def wait(self, timeout: float = 15) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            try:  # keep the pty drained so the child never blocks writing
                if select.select([self.fd], [], [], 0.05)[0]:
                    os.read(self.fd, 4096)
            except OSError:
                pass
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError("the process did not exit")

    def close(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)
