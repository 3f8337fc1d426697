"""The board's ``/`` filter: an input that reports its text as it changes."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input

from codality_cli.tui.messages import PromptReady


class FilterBar(Input):
    """Hidden until ``/``; ``escape`` clears and hides it, ``enter`` keeps the filter (and the
    board puts the cursor on the first match)."""

    DEFAULT_CSS = """
    FilterBar { display: none; dock: top; }
    FilterBar.-open { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close(True)", "Clear filter")]

    class Narrowed(Message):
        def __init__(self, needle: str) -> None:
            super().__init__()
            self.needle = needle

    class Closed(Message):
        """Focus should go back to the board: to the first match after enter."""

        def __init__(self, submitted: bool) -> None:
            super().__init__()
            self.submitted = submitted

    def __init__(self) -> None:
        super().__init__(
            placeholder="filter: words in #number, title, kind, priority, @assignee", id="filter"
        )

    def open(self) -> None:
        self.add_class("-open")
        self.focus()

    def on_focus(self) -> None:
        self.post_message(PromptReady())  # what was typed after ``/`` comes in now

    def action_close(self, clear: bool) -> None:
        if clear:
            self.value = ""  # (Input.Changed follows: the board shows every card again)
        if not self.value:
            self.remove_class("-open")
        self.post_message(self.Closed(submitted=not clear))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Narrowed(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_close(False)
