"""What a person reads of a model's reply whose answer is JSON: the prose, never the JSON.

A plan's suggestion round ends with the model's answer as JSON in its text (a ```json fence,
or a bare list or object); the CLI and the TUI list the suggestions it holds, so showing the
JSON too is noise. ``ProseFilter`` takes the reply as it streams, in pieces cut anywhere, and
gives back the rest: a line that could open a fence or a JSON value is held until it is known
to be one (then dropped) or not (then shown whole). Prose flows as it comes.
"""

from __future__ import annotations

import json
from enum import Enum, auto

FENCE = "```"
JSON_OPENERS = ("[", "{")


class _Mode(Enum):
    PROSE = auto()
    FENCE = auto()  # inside a fence, its lines held until it closes
    MAYBE_JSON = auto()  # lines from one starting with [ or {, held until they parse or end


def _is_json(text: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, list | dict)


def _could_start_hidden(partial: str) -> bool:
    """Whether an unfinished line may still turn out to open a fence or a JSON value."""
    start = partial.lstrip()
    return not start or FENCE.startswith(start[:3]) or start.startswith(JSON_OPENERS)


class ProseFilter:
    """A reply's text blocks, fed as they stream; ``feed`` and ``end`` (after each block)
    return what to show."""

    def __init__(self) -> None:
        self._mode = _Mode.PROSE
        self._partial = ""  # the current line's text not yet shown or held
        self._mid_line = False  # part of the current line is shown: the rest is prose
        self._held: list[str] = []  # the lines of a fence or a maybe-JSON value

    def feed(self, text: str) -> str:
        shown: list[str] = []
        self._partial += text
        while "\n" in self._partial:
            line, _, self._partial = self._partial.partition("\n")
            shown.append(self._line(line + "\n"))
        prose = self._mode is _Mode.PROSE and self._partial
        if prose and (self._mid_line or not _could_start_hidden(self._partial)):
            shown.append(self._partial)
            self._partial, self._mid_line = "", True
        return "".join(shown)

    def end(self) -> str:
        """The block is over: what is held is shown, unless it is JSON."""
        shown = self._line(self._partial) if self._partial else ""
        self._partial = ""
        held, self._held = "".join(self._held), []
        if self._mode is _Mode.FENCE:
            opening, _, content = held.partition("\n")
            if opening.strip()[len(FENCE) :].strip().lower() != "json" and not _is_json(content):
                shown += held
        elif self._mode is _Mode.MAYBE_JSON and not _is_json(held):
            shown += held
        self._mode, self._mid_line = _Mode.PROSE, False  # ready for the next block
        return shown

    def _line(self, line: str) -> str:
        """One whole line (its newline included, unless it is the block's last)."""
        if self._mid_line:
            self._mid_line = False
            return line
        stripped = line.strip()
        if self._mode is _Mode.PROSE:
            if stripped.startswith(FENCE):
                self._mode, self._held = _Mode.FENCE, [line]
                return ""
            if stripped.startswith(JSON_OPENERS):
                self._mode, self._held = _Mode.MAYBE_JSON, []
                return self._maybe_json(line)
            return line
        if self._mode is _Mode.MAYBE_JSON:
            return self._maybe_json(line)
        self._held.append(line)
        if stripped != FENCE:
            return ""
        self._mode = _Mode.PROSE
        opening, *body = self._held
        self._held = []
        tag = opening.strip()[len(FENCE) :].strip().lower()
        return "" if tag == "json" or _is_json("".join(body[:-1])) else opening + "".join(body)

    def _maybe_json(self, line: str) -> str:
        self._held.append(line)
        if _is_json("".join(self._held)):
            self._mode, self._held = _Mode.PROSE, []
        return ""
