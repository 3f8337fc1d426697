"""The screens' header: Textual's ``Header`` with title updates that survive shutdown.

Textual 8.2.8's ``Header`` updates its title from watchers that can still run after its children
are gone while the app closes, and then raises ``NoMatches`` (it only tolerates ``NoScreen``).
A board that finishes loading just as the user quits would crash on the way out; this header
skips the update instead.
"""

from __future__ import annotations

from textual.events import Mount
from textual.widget import Widget
from textual.widgets import Header
from textual.widgets._header import HeaderTitle


class TitleBar(Header):
    def _on_mount(self, event: Mount) -> None:
        event.prevent_default()  # instead of Header's own watchers, not beside them
        Widget._on_mount(self, event)

        async def show_title() -> None:
            for title in self.query(HeaderTitle):
                title.update(self.format_title())

        for source in (self.app, self.screen):
            self.watch(source, "title", show_title)
            self.watch(source, "sub_title", show_title)
