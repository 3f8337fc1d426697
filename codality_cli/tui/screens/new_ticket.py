"""``n``: the new-ticket form; answers the fields to create, or None when cancelled."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, TextArea

KINDS = ("task", "bug", "feature", "chore")
PRIORITIES = ("medium", "urgent", "high", "low")
STATUSES = ("backlog", "inbox")


def _choices(values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(value, value) for value in values]


class NewTicketScreen(ModalScreen[dict[str, Any] | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "create", "Create"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog form"):
            yield Label("New ticket", classes="dialog-title")
            yield Input(placeholder="Title", id="title")
            with Horizontal(classes="form-row"):
                yield Select(_choices(KINDS), value="task", allow_blank=False, id="kind")
                yield Select(_choices(PRIORITIES), value="medium", allow_blank=False, id="priority")
                yield Select(_choices(STATUSES), value="backlog", allow_blank=False, id="status")
            yield TextArea(id="description", language="markdown")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Create (ctrl+s)", variant="primary", id="create")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#title", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_create()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "create":
            self.action_create()
        else:
            self.action_cancel()

    def action_create(self) -> None:
        title = self.query_one("#title", Input).value.strip()
        if not title:
            self.notify("A ticket needs a title.", severity="warning")
            return
        fields: dict[str, Any] = {"title": title}
        for name in ("kind", "priority", "status"):
            fields[name] = str(self.query_one(f"#{name}", Select).value)
        description = self.query_one("#description", TextArea).text.strip()
        if description:
            fields["description"] = description
        self.dismiss(fields)

    def action_cancel(self) -> None:
        self.dismiss(None)
