"""Exit codes and the one error type commands raise.

The root command (``main.CodalityGroup``) catches ``CliError`` around every command, in a real run
and under ``CliRunner`` alike, prints it through ``show()`` as one ``error: …`` line on stderr and
exits with its code.
"""

from __future__ import annotations

import sys
from enum import IntEnum
from typing import IO, Any


class ExitCode(IntEnum):
    """Documented exit codes (product.md §12); scripts may rely on them."""

    OK = 0
    ERROR = 1
    USAGE = 2
    NOT_FOUND = 3
    AUTH = 4
    UNREACHABLE = 5
    CONFLICT = 6
    AGENT_UNSUCCESSFUL = 7


class CliError(Exception):
    """A failure to report as one readable line, with the exit code that says what kind it was."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = int(exit_code)

    def show(self, file: IO[Any] | None = None) -> None:
        (file or sys.stderr).write(f"error: {self.message}\n")


# HTTP status → exit code, for errors the server answered with its envelope.
STATUS_EXIT_CODES: dict[int, ExitCode] = {
    400: ExitCode.ERROR,
    401: ExitCode.AUTH,
    404: ExitCode.NOT_FOUND,
    409: ExitCode.CONFLICT,
    503: ExitCode.UNREACHABLE,
}


def exit_code_for_status(status: int) -> ExitCode:
    return STATUS_EXIT_CODES.get(status, ExitCode.ERROR)
