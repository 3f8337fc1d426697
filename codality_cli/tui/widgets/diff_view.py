"""One file's diff, syntax-coloured, with a line cursor, a ``v`` range and ``c`` to comment.

The view knows nothing about reviews: ``c`` posts ``CommentRequested(path, first, last)`` and the
screen decides what to do; lines that already carry a comment show a marker (``commented``).
"""

from __future__ import annotations

from typing import ClassVar

from rich.syntax import Syntax
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from codality_cli.tui.diff_parse import DiffLine, FileDiff

LINE_STYLES = {"added": "on #13351f", "removed": "on #3d1717", "hunk": "cyan", "context": ""}
SIGNS = {"added": "+", "removed": "-", "context": " ", "hunk": ""}


def highlight_lines(diff: FileDiff) -> list[Text]:
    """The code of every line, coloured by the lexer its file name suggests."""
    lexer = Syntax.guess_lexer(diff.path)
    syntax = Syntax("", lexer, theme="ansi_dark")
    code = "\n".join(line.text for line in diff.lines)
    coloured = list(syntax.highlight(code).split("\n")) if code else []
    coloured += [Text("")] * (len(diff.lines) - len(coloured))
    return [
        Text(line.text, style="bold cyan") if line.kind == "hunk" else coloured[i]
        for i, line in enumerate(diff.lines)
    ]


def render_line(line: DiffLine, code: Text, selected: bool, commented: bool) -> Text:
    """``▌ 12  13 + code`` with the add/remove background."""
    row = Text(no_wrap=True, overflow="ellipsis")
    row.append("▌" if selected else " ", style="bold magenta")
    row.append("●" if commented else " ", style="yellow")
    if line.kind != "hunk":
        row.append(f"{line.old or '':>5}{line.new or '':>5} {SIGNS[line.kind]} ", style="dim")
    row.append_text(code)
    row.stylize(LINE_STYLES[line.kind])
    return row


class DiffView(OptionList):
    """The lines of one ``FileDiff``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Next line", key_display="↓/j", show=False),
        Binding("k", "cursor_up", "Previous line", key_display="↑/k", show=False),
        # Said under the diff instead of in the footer, which must fit 80 columns.
        Binding("v", "toggle_range", "Range", show=False),
        Binding("c", "comment", "Comment"),
    ]

    class CommentRequested(Message):
        def __init__(self, path: str, first: int, last: int) -> None:
            super().__init__()
            self.path = path
            self.first = first
            self.last = last

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.diff: FileDiff | None = None
        self.commented: set[int] = set()
        self.range_start: int | None = None
        self._code: list[Text] = []
        self._shown: set[int] = set()

    def show_file(self, diff: FileDiff | None, commented: set[int]) -> None:
        """Display a file (or nothing) with markers on the already commented line numbers."""
        self.diff = diff
        self.commented = commented
        self.range_start = None
        self._shown = set()
        self._code = highlight_lines(diff) if diff else []
        self.border_title = diff.path if diff else "no changes"
        lines = diff.lines if diff else []
        if diff is not None and diff.note is not None:
            self.set_options([Option(Text(diff.note, style="italic"), disabled=True)])
            return
        self.set_options(
            Option(render_line(line, self._code[i], False, self._is_commented(line)))
            for i, line in enumerate(lines)
        )
        if lines:
            self.highlighted = 0

    def _is_commented(self, line: DiffLine) -> bool:
        return line.kind != "hunk" and line.number in self.commented

    def selection(self) -> tuple[int, int] | None:
        """Indices of the selected lines: the range from the anchor, or the cursor line."""
        if self.highlighted is None:
            return None
        start = self.highlighted if self.range_start is None else self.range_start
        return min(start, self.highlighted), max(start, self.highlighted)

    def _rerender(self, indices: set[int]) -> None:
        if self.diff is None:
            return
        picked = self.selection() if self.range_start is not None else None
        selected = set(range(picked[0], picked[1] + 1)) if picked else set()
        for index in indices | selected:
            line = self.diff.lines[index]
            prompt = render_line(
                line, self._code[index], index in selected, self._is_commented(line)
            )
            self.replace_option_prompt_at_index(index, prompt)
        self._shown = selected

    def watch_highlighted(self, highlighted: int | None) -> None:
        super().watch_highlighted(highlighted)
        if self.range_start is not None:
            self._rerender(set(self._shown))

    def action_toggle_range(self) -> None:
        self.range_start = None if self.range_start is not None else self.highlighted
        self._rerender(set(self._shown))

    def action_comment(self) -> None:
        picked = self.selection()
        if self.diff is None or picked is None:
            return
        numbers = [
            line.number
            for line in self.diff.lines[picked[0] : picked[1] + 1]
            if line.kind != "hunk" and line.number is not None
        ]
        if numbers:
            self.post_message(self.CommentRequested(self.diff.path, numbers[0], numbers[-1]))

    def mark_commented(self, line_number: int) -> None:
        """Show the marker on a line that now has a pending comment, and drop the range."""
        self.commented.add(line_number)
        self.range_start = None
        self._rerender(set(self._shown) | self._indices_of(line_number))

    def _indices_of(self, line_number: int) -> set[int]:
        lines = self.diff.lines if self.diff else []
        return {
            i for i, line in enumerate(lines) if line.kind != "hunk" and line.number == line_number
        }
