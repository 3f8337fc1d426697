"""``n`` and ``e``: the ticket form, centred; answers the saved ticket, or None when cancelled.

Enter in the title moves on to the description (where enter is a new line); ctrl+s sends from
anywhere in the form. Editing (``e``) starts from the ticket's fields and has no status: moving a
card is ``<``/``>`` or ``1``–``6`` on the board.

The form saves through the ``save`` it is given and closes only once that succeeded: when the
server is away (restarting, say) the error is shown and what was typed stays, to be sent again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

from textual import work
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


#: Sends the form's fields; the saved ticket, or None when that failed (and was said).
Save = Callable[[dict[str, Any]], Awaitable[Mapping[str, Any] | None]]


class NewTicketScreen(ModalScreen[Mapping[str, Any] | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "create", "Save", priority=True),
    ]

    def __init__(self, save: Save, ticket: Mapping[str, Any] | None = None) -> None:
        super().__init__(classes="modal")
        self.save = save
        self.ticket = ticket

    def compose(self) -> ComposeResult:
        ticket = self.ticket or {}
        heading = f"Edit #{ticket['number']}" if self.ticket else "New ticket"
        with Vertical(classes="dialog form"):
            yield Label(heading, classes="dialog-title")
            yield Input(str(ticket.get("title", "")), placeholder="Title", id="title")
            with Horizontal(classes="form-row"):
                yield Select(
                    _choices(KINDS), value=ticket.get("kind", "task"), allow_blank=False, id="kind"
                )
                yield Select(
                    _choices(PRIORITIES),
                    value=ticket.get("priority", "medium"),
                    allow_blank=False,
                    id="priority",
                )
                if not self.ticket:
                    yield Select(
                        _choices(STATUSES), value="backlog", allow_blank=False, id="status"
                    )
            yield TextArea(
                str(ticket.get("description") or ""), id="description", language="markdown"
            )
            with Horizontal(classes="dialog-buttons"):
                label = "Save (ctrl+s)" if self.ticket else "Create (ctrl+s)"
                yield Button(label, variant="primary", id="create")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#title", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#description", TextArea).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "create":
            self.action_create()
        else:
            self.action_cancel()

    def action_create(self) -> None:
        title = self.query_one("#title", Input).value.strip()
        if not title:
            self.notify("A ticket needs a title.", severity="warning")
            self.query_one("#title", Input).focus()
            return
        fields: dict[str, Any] = {"title": title}
        for select in self.query(Select):
            fields[str(select.id)] = str(select.value)
        description = self.query_one("#description", TextArea).text.strip()
        if description or self.ticket:
            fields["description"] = description
        if self.ticket:  # only what changed
            fields = {k: v for k, v in fields.items() if v != (self.ticket.get(k) or "")}
            if not fields:
                self.notify(f"Nothing changed on #{self.ticket['number']}.")
                self.dismiss(None)
                return
        self.send(fields)

    @work(exclusive=True, group="ticket-form")
    async def send(self, fields: dict[str, Any]) -> None:
        button = self.query_one("#create", Button)
        button.disabled = True  # one request at a time
        try:
            saved = await self.save(fields)
        finally:
            button.disabled = False
        if saved is not None:
            self.dismiss(saved)

    def action_cancel(self) -> None:
        self.dismiss(None)
