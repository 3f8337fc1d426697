"""``:``: a one-line command prompt at the bottom of the screen, k9s style.

Answers the typed line (the app parses and runs it), or None on escape. Tab or → accepts the
greyed-out completion of a command name.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label

from codality_cli.tui.command_line import suggestions
from codality_cli.tui.messages import PromptReady


class CommandLineScreen(ModalScreen[str | None]):
    DEFAULT_CSS = """
    CommandLineScreen { align: left bottom; background: $background 30%; }
    CommandLineScreen #command-row { height: 1; background: $panel; }
    CommandLineScreen #command-prompt { width: 2; padding: 0 0 0 1; text-style: bold; }
    CommandLineScreen #command { border: none; height: 1; padding: 0; width: 1fr;
                                 background: $panel; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Horizontal(id="command-row"):
            yield Label(":", id="command-prompt")
            yield Input(
                placeholder="tickets · plans · queues · discover · project NAME · open N · q",
                suggester=SuggestFromList(suggestions(), case_sensitive=False),
                id="command",
            )

    def on_descendant_focus(self) -> None:
        self.post_message(PromptReady())  # what was typed after ``:`` comes in now

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
