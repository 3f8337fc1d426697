"""The banner shown while the event stream is down (the app's ``connected`` attribute)."""

from __future__ import annotations

from textual.widgets import Static


class ConnectionBanner(Static):
    """Hidden while connected; every screen has one, all following ``app.connected``."""

    DEFAULT_CSS = """
    ConnectionBanner { display: none; dock: top; height: 1; padding: 0 1;
                       background: $error; color: $text; text-style: bold; }
    ConnectionBanner.-lost { display: block; }
    """

    def __init__(self) -> None:
        super().__init__("Connection to the server lost — reconnecting…")

    def on_mount(self) -> None:
        self.watch(self.app, "connected", self._show, init=True)

    def _show(self, connected: bool) -> None:
        self.set_class(not connected, "-lost")
