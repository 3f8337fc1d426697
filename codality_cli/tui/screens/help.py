"""``?``: the keys of the screen you came from, read from its bindings (never a second list)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def key_rows(bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
    """(keys, what it does) of every described binding, in declaration order: the long name
    (the tooltip) when the footer shows a short one."""
    rows: list[tuple[str, str]] = []
    for binding in bindings:
        if isinstance(binding, Binding) and binding.description:
            keys = ", ".join(part.strip() for part in binding.key.split(","))
            rows.append((binding.key_display or keys, binding.tooltip or binding.description))
    return rows


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, title: str, rows: list[tuple[str, str]]) -> None:
        super().__init__(classes="modal")
        self.title_text = title
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table(title=f"{self.title_text} — keys", show_header=False, box=None, expand=True)
        table.add_column(style="bold yellow", no_wrap=True)
        table.add_column()
        for keys, description in self.rows:
            table.add_row(keys, description)
        with VerticalScroll(classes="dialog help"):
            yield Static(table)
            yield Static("escape: close", classes="dialog-hint")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
