"""``grep``: a regular-expression search over the worktree's text files, at most 50 matches."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterator
from pathlib import Path

from pydantic import Field

from .base import Tool, ToolContext, ToolError, ToolInput, in_thread, relative
from .files import HIDDEN, resolve

MAX_MATCHES = 50
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_LINE = 300


class GrepInput(ToolInput):
    pattern: str = Field(min_length=1, description="Python regular expression")
    path: str = Field(".", description="file or directory to search, relative to the root")
    glob: str | None = Field(None, description="only files whose name matches, e.g. '*.py'")
    ignore_case: bool = False


def _files(root: Path, glob: str | None) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in HIDDEN)
        for name in sorted(names):
            if glob is None or fnmatch.fnmatch(name, glob):
                path = Path(folder, name)
                if not path.is_symlink():
                    yield path


@in_thread
def grep(ctx: ToolContext, args: GrepInput) -> str:
    try:
        regex = re.compile(args.pattern, re.IGNORECASE if args.ignore_case else 0)
    except re.error as exc:
        raise ToolError(f"invalid regular expression: {exc}") from None
    root = resolve(ctx, args.path)
    if not root.exists():
        raise ToolError(f"{args.path}: no such file or directory")
    matches: list[str] = []
    for path in _files(root, args.glob):
        if path.stat().st_size > MAX_FILE_BYTES:
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if regex.search(line):
                matches.append(f"{relative(ctx, path)}:{number}: {line.strip()[:MAX_LINE]}")
                if len(matches) > MAX_MATCHES:
                    matches[-1] = f"[more than {MAX_MATCHES} matches; narrow the search]"
                    return "\n".join(matches)
    return "\n".join(matches) or "no matches"


TOOLS = [
    Tool(
        "grep",
        "Search the repository's text files with a regular expression; returns up to 50 "
        "matching lines as path:line: text, so narrow the pattern when there are many.",
        GrepInput,
        grep,
    )
]
