"""Shown when no project was given or found: pick one; answers its slug."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label, OptionList
from textual.widgets.option_list import Option


class ProjectPickerScreen(Screen[str]):
    def __init__(self, projects: list[dict[str, Any]]) -> None:
        super().__init__()
        self.projects = projects

    def compose(self) -> ComposeResult:
        with Vertical(classes="picker"):
            if self.projects:
                yield Label("Choose a project", classes="dialog-title")
                yield OptionList(
                    *(
                        Option(f"{p['name']}  ({p['path']})", id=str(p["slug"]))
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
            picker.highlighted = 0
            picker.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.dismiss(event.option.id)
