"""One tool call in a transcript: one line that expands on ``enter`` to its input and output.

A call whose run ended before its result came (stopped, interrupted, failed) is marked as such:
its ``…`` would otherwise read as still running forever. A call without an id (a plan
suggestion's: its result is not reported) has no mark.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.widget import Widget

from codality_cli.agent_stream import tool_preview
from codality_cli.states import state_words

OUTPUT_PREVIEW_CHARS = 4000


class ToolCall(Widget, can_focus=True):
    """``▸ bash  ls -la  ✓``; ``enter`` shows the full input and the (capped) output."""

    DEFAULT_CSS = """
    ToolCall { height: auto; padding: 0 1; }
    ToolCall:focus { background: $boost; }
    ToolCall.-error { color: $error; }
    ToolCall.-stopped { color: $warning; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "toggle_expanded", "Expand", show=False)
    ]

    expanded: reactive[bool] = reactive(False, layout=True)
    outcome: reactive[bool | None] = reactive(None, layout=True)
    # Why the run ended while this call had no result ("stopped", "interrupted" …), if it did.
    cut_short: reactive[str | None] = reactive(None, layout=True)

    def __init__(self, name: str, tool_input: Any, call_id: str | None = None) -> None:
        super().__init__(classes="tool-call")
        self.tool_name = name
        self.tool_input = tool_input
        self.call_id = call_id
        self.output = ""

    def set_result(self, ok: bool, output: str) -> None:
        self.output = output
        self.outcome = ok
        self.set_class(not ok, "-error")

    def set_cut_short(self, why: str) -> None:
        """The run ended before this call returned."""
        self.cut_short = why
        self.add_class("-stopped")

    def action_toggle_expanded(self) -> None:
        self.expanded = not self.expanded

    def render(self) -> RenderableType:
        marker = "▾" if self.expanded else "▸"
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f"{marker} ")
        line.append(self.tool_name, style="bold")
        line.append(f"  {tool_preview(self.tool_input)}  ", style="dim")
        if self.outcome is None and self.cut_short:
            line.append(f"■ {state_words(self.cut_short)}", style="yellow")
        elif self.call_id is not None or self.outcome is not None:  # else no result will come
            state = {None: "…", True: "✓", False: "✗"}[self.outcome]
            line.append(state, style={None: "dim", True: "green", False: "red"}[self.outcome])
        if not self.expanded:
            return line
        pretty = json.dumps(self.tool_input, indent=2, ensure_ascii=False, default=str)
        output = self.output
        if len(output) > OUTPUT_PREVIEW_CHARS:
            output = output[:OUTPUT_PREVIEW_CHARS] + f"\n… ({len(self.output)} characters)"
        parts: list[RenderableType] = [line, Text(pretty, style="dim")]
        if self.outcome is not None:
            parts.append(Text(output or "(no output)"))
        elif self.cut_short:
            parts.append(Text(f"(no result: {state_words(self.cut_short)})"))
        return Group(*parts)
