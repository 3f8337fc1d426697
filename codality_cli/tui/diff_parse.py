"""Unified diff text → files of numbered lines, so the review screen can point at a line.

Plain Python (no Textual). Lines keep both old and new numbers; a review comment uses the new
line number, or the old one for a removed line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from codality_cli.api.models import NotShownFile

LineKind = Literal["hunk", "context", "added", "removed"]
HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass(frozen=True)
class DiffLine:
    kind: LineKind
    text: str
    old: int | None = None
    new: int | None = None

    @property
    def number(self) -> int | None:
        """The line a comment on this line refers to."""
        return self.new if self.new is not None else self.old


@dataclass
class FileDiff:
    path: str
    lines: list[DiffLine] = field(default_factory=list)
    binary: bool = False
    #: Why the file's lines are not shown (the server left its too large patch out); its counts
    #: then come from the server as ``counts`` (added, removed).
    note: str | None = None
    counts: tuple[int, int] | None = None

    @property
    def added(self) -> int:
        if self.counts is not None:
            return self.counts[0]
        return sum(1 for line in self.lines if line.kind == "added")

    @property
    def removed(self) -> int:
        if self.counts is not None:
            return self.counts[1]
        return sum(1 for line in self.lines if line.kind == "removed")


def with_not_shown(files: list[FileDiff], not_shown: Sequence[NotShownFile]) -> list[FileDiff]:
    """The files of a patch and those too large to be in it, together in path order."""
    left_out = [
        FileDiff(
            f["path"],
            note=(
                f"Too large to show here: {f['message']}. Its changes are counted"
                f" (+{f['insertions']} -{f['deletions']}), not shown."
            ),
            counts=(f["insertions"], f["deletions"]),
        )
        for f in not_shown
    ]
    return sorted([*files, *left_out], key=lambda f: f.path)


def _path_from_header(header: str) -> str:
    """``diff --git a/x b/x`` → ``x`` (the new side's name)."""
    _, _, rest = header.partition(" b/")
    return rest or header.removeprefix("diff --git ").split(" ")[-1]


def parse_diff(text: str) -> list[FileDiff]:
    """Every file of a ``git diff``-style patch with its hunks' lines numbered."""
    files: list[FileDiff] = []
    current: FileDiff | None = None
    old = new = 0
    in_hunk = False
    for raw in text.splitlines():
        if raw.startswith("diff --git "):
            current = FileDiff(_path_from_header(raw))
            files.append(current)
            in_hunk = False
            continue
        if current is None:
            continue
        match = HUNK.match(raw)
        if match:
            old, new = int(match.group(1)), int(match.group(2))
            current.lines.append(DiffLine("hunk", raw))
            in_hunk = True
        elif not in_hunk:
            if raw.startswith("+++ ") and raw[4:] != "/dev/null":
                current.path = raw[4:].removeprefix("b/")
            elif raw.startswith("Binary files"):
                current.binary = True
        elif raw.startswith("+"):
            current.lines.append(DiffLine("added", raw[1:], new=new))
            new += 1
        elif raw.startswith("-"):
            current.lines.append(DiffLine("removed", raw[1:], old=old))
            old += 1
        elif raw.startswith("\\"):
            continue
        else:
            current.lines.append(DiffLine("context", raw[1:], old=old, new=new))
            old += 1
            new += 1
    return files
