"""Long text from ``$EDITOR`` (ticket descriptions, comments) when a person is at the terminal."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .errors import CliError

MARKER = "<!-- Everything from this line down is ignored. Save and quit to continue. -->"


def edit_text(initial: str = "", hint: str = "") -> str:
    """Open ``$VISUAL``/``$EDITOR`` (else ``vi``) on a temporary markdown file; return its text."""
    import shlex
    import subprocess
    import tempfile

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.TemporaryDirectory(prefix="codality-") as folder:
        path = Path(folder) / "TEXT.md"
        path.write_text(f"{initial}\n\n{MARKER}\n{hint}\n", "utf-8")
        try:
            result = subprocess.run([*shlex.split(editor), str(path)])
        except OSError as exc:
            raise CliError(f"cannot run the editor {editor!r}: {exc}") from exc
        if result.returncode != 0:
            raise CliError(f"the editor {editor!r} exited with status {result.returncode}")
        text = path.read_text("utf-8")
    return text.split(MARKER, 1)[0].strip()


def read_text_arg(value: str | None) -> str | None:
    """``-`` means standard input; anything else is the text itself."""
    if value == "-":
        return sys.stdin.read().strip()
    return value


def text_or_editor(given: str | None, interactive: bool, hint: str) -> str | None:
    """The text given (``-`` reads stdin), else ``$EDITOR`` when a person is at the terminal."""
    text = read_text_arg(given)
    if text is None and interactive:
        text = edit_text("", hint)
    return text
