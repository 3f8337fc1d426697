"""Pick a project; answers its slug. Shown when no project was given or found, and on ``p``
(then escape keeps the current board and the current project is marked)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label, OptionList
from textual.widgets.option_list import Option

if TYPE_CHECKING:
    from codality_cli.api.models import Project


class ProjectPickerScreen(Screen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Back")]

    def __init__(self, projects: Sequence[Project], current: str | None = None) -> None:
        super().__init__()
        self.projects = projects
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="picker"):
            if self.projects:
                yield Label("Choose a project", classes="dialog-title")
                yield OptionList(
                    *(
                        Option(
                            f"{'● ' if p['slug'] == self.current else '  '}{p['name']}  "
                            f"({p['path']})",
                            id=str(p["slug"]),
                        )
                        for p in self.projects
                    ),
                    id="projects",
                )
            else:
                yield Label(
                    "No projects yet. Create one with `codality project create`, then run "
                    "`codality tui` again.",
                    classes="dialog-title",
                )
        yield Footer()

    def on_mount(self) -> None:
        if self.projects:
            picker = self.query_one("#projects", OptionList)
            slugs = [str(p["slug"]) for p in self.projects]
            picker.highlighted = slugs.index(self.current) if self.current in slugs else 0
            picker.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        """Back to the board that was open; at start-up there is none, so the picker stays."""
        if self.current is not None:
            self.dismiss(None)
