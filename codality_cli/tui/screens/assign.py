"""``a``: who takes the ticket — me, the agent, nobody, or a person picked by name.

Typing narrows the list (any part of a name or e-mail); enter picks the highlighted row.
Answers the API's assignee (a user id, ``"agent"``) or ``ASSIGN_NOBODY``; None when cancelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

if TYPE_CHECKING:
    from codality_cli.api.models import Person, User

ASSIGN_NOBODY = "nobody"


def person_label(user: Person) -> str:
    name = user["name"].strip()
    email = user["email"]
    return f"{name} <{email}>" if name else email


class AssignScreen(ModalScreen[int | str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "cursor(1)", "Next", show=False),
        Binding("up", "cursor(-1)", "Previous", show=False),
    ]

    def __init__(self, number: int, me: User | None, people: Sequence[Person]):
        super().__init__(classes="modal")
        self.number = number
        self.choices: list[tuple[str, int | str]] = []
        if me is not None:
            self.choices.append((f"Me — {person_label(me)}", me["id"]))
        self.choices += [("The agent", "agent"), ("Nobody (unassign)", ASSIGN_NOBODY)]
        self.choices += [
            (person_label(p), p["id"]) for p in people if me is None or p["id"] != me["id"]
        ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Assign #{self.number} to…", classes="dialog-title")
            yield Input(placeholder="type a name or e-mail", id="who")
            yield OptionList(id="people")
            yield Label("enter: assign · escape: cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self._show("")
        self.query_one("#who", Input).focus()

    def _show(self, needle: str) -> None:
        people = self.query_one("#people", OptionList)
        words = needle.lower().split()
        people.set_options(
            Option(label, id=str(index))
            for index, (label, _) in enumerate(self.choices)
            if all(word in label.lower() for word in words)
        )
        people.highlighted = 0 if people.option_count else None

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._show(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        people = self.query_one("#people", OptionList)
        if people.highlighted is not None:
            self._pick(people.get_option_at_index(people.highlighted))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._pick(event.option)

    def _pick(self, option: Option) -> None:
        if option.id is not None:
            self.dismiss(self.choices[int(option.id)][1])

    def action_cursor(self, step: int) -> None:
        people = self.query_one("#people", OptionList)
        if step > 0:
            people.action_cursor_down()
        else:
            people.action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)
