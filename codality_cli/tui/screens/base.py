"""What every full screen shares: the connection banner, ``?`` help, and API calls that fail softly.

A failed call becomes a notification with the server's own message (the error envelope), never a
crashed app; workers call ``attempt`` and get None back.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, ClassVar, Protocol, TypeVar, cast

from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Input

from codality_cli.api import ApiError, ServerUnavailable
from codality_cli.tui.command_line import summary
from codality_cli.tui.screens.help import HelpScreen, key_rows

if TYPE_CHECKING:
    from codality_cli.api import ApiClient
    from codality_cli.tui.messages import EventReceived

T = TypeVar("T")


class AppParts(Protocol):
    """What screens use of the app; the app provides it, and screens never import the app."""

    @property
    def api(self) -> ApiClient: ...

    def live_run(self, ticket_id: int) -> list[EventReceived] | None: ...

    def hold_keys(self) -> None: ...


class LiveScreen(Screen[None]):
    """A screen fed by the app's event stream (``on_event_received``)."""

    HELP_TITLE = "Codality"
    # Streaming deltas arrive by the thousand per second; only screens that show them get them.
    WANTS_DELTAS = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Keys", key_display="?")
    ]

    @property
    def codality(self) -> AppParts:
        return cast("AppParts", self.app)

    @property
    def api(self) -> ApiClient:
        return self.codality.api

    def action_help(self) -> None:
        """The focused widget's own keys (one of ours), then the screen's, then the app's."""
        focused = type(self.focused) if self.focused else None
        own = focused.__dict__.get("BINDINGS", []) if focused else []
        if focused and not focused.__module__.startswith("codality_cli."):
            own = []
        rows = key_rows([*own, *self.BINDINGS, *LiveScreen.BINDINGS, *self.app.BINDINGS])
        rows.append(("ctrl+p", "Command palette: every action by name"))
        rows += summary()  # the ``:`` command line works on every screen
        self.app.push_screen(HelpScreen(self.HELP_TITLE, list(dict.fromkeys(rows))))

    async def attempt(self, call: Awaitable[T], doing: str) -> T | None:
        """Await one API call; on failure tell the user what failed and why, and return None."""
        try:
            return await call
        except ApiError as exc:
            self.notify(f"{doing} failed: {exc.message}", severity="error", timeout=8)
        except ServerUnavailable as exc:
            self.notify(f"{doing} failed: {exc}", severity="error", timeout=8)
        return None

    def notify_error(self, doing: str, exc: ApiError) -> None:
        self.notify(f"{doing} failed: {exc.message}", severity="error", timeout=8)


def give_back(field: Input, text: str) -> None:
    """What could not be sent goes back where it was typed (unless something new is there), so
    a server that was away costs a retype of nothing."""
    if not field.value:
        field.value = text
