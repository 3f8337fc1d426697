"""A ticket's agent runs, newest first: pick one to replay its transcript on the ticket screen.

Answers the chosen session's id through ``dismiss`` (None on escape).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from codality_cli.agent_stream import counted, money
from codality_cli.states import state_words

if TYPE_CHECKING:
    from codality_cli.api.models import SessionView


def run_label(session: SessionView, number: int, shown: bool) -> Text:
    """``▸ run 3 · completed · review · 12 turns · $0.0123 · 2026-12-03 13:02``: the same turns
    and cost as the CLI's ``ticket runs N``."""
    label = Text(no_wrap=True, overflow="ellipsis")
    label.append("▸ " if shown else "  ", style="bold")
    label.append(f"run {number}", style="bold")
    status = session["status"]
    label.append(f" · {state_words(status)}", style="green" if status == "running" else "")
    turns = counted(session["turns"], "turn")
    label.append(f" · {session['trigger']} · {turns} · {money(session['cost_usd'])}")
    started = session["started_at"][:16].replace("T", " ")
    if started:
        label.append(f" · {started}", style="dim")
    return label


class RunsScreen(ModalScreen[int | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, number: int, sessions: list[SessionView], shown: int | None) -> None:
        super().__init__(classes="modal")
        self.number = number
        self.sessions = sessions
        self.shown = shown

    def compose(self) -> ComposeResult:
        count = len(self.sessions)
        with Vertical(classes="dialog"):
            yield Label(f"Agent runs on #{self.number} (enter: replay)", classes="dialog-title")
            yield OptionList(
                *(
                    Option(
                        run_label(session, count - i, session["id"] == self.shown),
                        id=str(session["id"]),
                    )
                    for i, session in enumerate(self.sessions)
                ),
                id="runs",
            )

    def on_mount(self) -> None:
        runs = self.query_one("#runs", OptionList)
        ids = [session.get("id") for session in self.sessions]
        runs.highlighted = ids.index(self.shown) if self.shown in ids else 0
        runs.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.dismiss(int(event.option.id))

    def action_close(self) -> None:
        self.dismiss(None)
