"""Where output goes: data on ``out``, messages and spinners on ``err``.

Colour and spinners depend on whether each stream is a terminal; tests build ``Streams`` with
buffers (``Streams.for_test``) and say which of them should count as a terminal.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Streams:
    """The process's two text streams and what they are connected to.

    ``interactive`` means a person can answer (stdin and stderr are terminals): only then do
    commands prompt or open ``$EDITOR``.
    """

    def __init__(
        self,
        out: TextIO,
        err: TextIO,
        out_tty: bool,
        err_tty: bool,
        no_color: bool = False,
        interactive: bool = False,
    ) -> None:
        self.out = out
        self.err = err
        self.out_tty = out_tty
        self.err_tty = err_tty
        self.no_color = no_color
        self.interactive = interactive
        self._consoles: dict[str, Console] = {}

    @classmethod
    def system(cls, no_color: bool = False) -> Streams:
        err_tty = _isatty(sys.stderr)
        interactive = err_tty and _isatty(sys.stdin)
        return cls(sys.stdout, sys.stderr, _isatty(sys.stdout), err_tty, no_color, interactive)

    @classmethod
    def for_test(cls, tty: bool = False, no_color: bool = False) -> Streams:
        return cls(io.StringIO(), io.StringIO(), tty, tty, no_color, tty)

    @property
    def color(self) -> bool:
        return self.out_tty and not self.no_color

    def console(self, which: str = "out") -> Console:
        """A rich console on one stream; plain (no colour, no styles) when not a terminal."""
        if which not in self._consoles:
            from rich.console import Console

            tty = self.out_tty if which == "out" else self.err_tty
            self._consoles[which] = Console(
                file=self.out if which == "out" else self.err,
                force_terminal=tty,
                no_color=self.no_color or not tty,
                color_system="auto" if tty and not self.no_color else None,
                highlight=False,
                soft_wrap=not tty,
            )
        return self._consoles[which]

    def message(self, text: str) -> None:
        """A line for the human (progress, confirmations) on stderr, never on stdout."""
        self.err.write(text + "\n")
        self.err.flush()

    def write(self, text: str) -> None:
        """Data on stdout."""
        self.out.write(text)
        self.out.flush()

    @contextlib.contextmanager
    def spinner(self, text: str) -> Iterator[None]:
        """A spinner on stderr while something slow happens — only when stderr is a terminal."""
        if not self.err_tty:
            yield
            return
        with self.console("err").status(text):
            yield
