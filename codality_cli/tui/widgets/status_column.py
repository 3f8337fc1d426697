"""One board column: a titled, scrollable list of ticket cards, drawn line by line.

Every card is exactly two lines plus a blank line between cards, so the column knows its height
without measuring anything and draws only the cards in view: a column of 700 tickets costs what a
column of ten does (bench/tui_board.py). Only a focused column shows its cursor, so exactly one
card on the board looks selected.

The column owns only its own cursor; moving between columns is the board screen's job. ``enter``
(or a double click) posts ``TicketOpened`` with the ticket's number.
"""

from __future__ import annotations

from typing import ClassVar

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from codality_cli.tui.board_state import Ticket
from codality_cli.tui.widgets.ticket_card import render_card

CARD_LINES = 2
CARD_STEP = CARD_LINES + 1  # a card and the blank line under it
PADDING = 1  # columns of space either side of a card's text


class StatusColumn(ScrollView, can_focus=True):
    """The cards of one ticket status."""

    DEFAULT_CSS = """
    StatusColumn {
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
        & > .status-column--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: bold;
        }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"status-column--cursor"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "cursor(1)", "Next card", key_display="↓/j", show=False, system=True),
        Binding("up,k", "cursor(-1)", "Previous card", key_display="↑/k", show=False, system=True),
        Binding("home,g", "edge(False)", "First card", show=False, system=True),
        Binding("end,G", "edge(True)", "Last card", show=False, system=True),
        Binding("pagedown", "page(1)", "Page down", show=False, system=True),
        Binding("pageup", "page(-1)", "Page up", show=False, system=True),
        Binding("enter", "open", "Open ticket", show=False, system=True),
    ]

    highlighted: reactive[int | None] = reactive(None, always_update=True)

    class TicketOpened(Message):
        def __init__(self, number: int) -> None:
            super().__init__()
            self.number = number

    def __init__(self, status: str, title: str) -> None:
        super().__init__(id=f"column-{status}", classes="status-column -empty")
        self.status = status
        self.title = title
        self.tickets: list[Ticket] = []
        self._index: dict[int, int] = {}
        self._strips: dict[int, tuple[Strip, ...]] = {}
        self._width = 0
        self._show_title()

    # ---- contents --------------------------------------------------------------------------

    def show_tickets(self, tickets: list[Ticket]) -> None:
        """Replace the cards, keeping the cursor on the same ticket when it is still here."""
        current = self.highlighted_ticket
        self.tickets = tickets
        self._index = {int(t["number"]): i for i, t in enumerate(tickets)}
        self._strips.clear()
        self.virtual_size = Size(self._width, max(0, len(tickets) * CARD_STEP - 1))
        self.set_class(not tickets, "-empty")  # narrow: the width goes to columns with cards
        self._show_title()
        if current is not None and current in self._index:
            self.highlighted = self._index[current]
        else:
            self.highlighted = 0 if tickets else None
        self.refresh()

    @property
    def numbers(self) -> list[int]:
        """The ticket numbers shown, top to bottom."""
        return [int(t["number"]) for t in self.tickets]

    def index_of(self, number: int) -> int | None:
        return self._index.get(number)

    def card_text(self, number: int) -> str:
        """The plain text of a ticket's card ("" when it is not in this column)."""
        index = self._index.get(number)
        return "" if index is None else render_card(self.tickets[index]).plain

    @property
    def highlighted_ticket(self) -> int | None:
        """The number of the ticket under the cursor."""
        if self.highlighted is None or not 0 <= self.highlighted < len(self.tickets):
            return None
        return int(self.tickets[self.highlighted]["number"])

    def select(self, number: int) -> bool:
        """Put the cursor on a ticket of this column; False when it is not here."""
        index = self._index.get(number)
        if index is not None:
            self.highlighted = index
        return index is not None

    def _show_title(self) -> None:
        """``n Title``: the count first, so a column too narrow for its whole title (five
        across 80 cells) loses the end of the name, never the count."""
        self.border_title = f"{len(self.tickets)} {self.title}"

    # ---- cursor ----------------------------------------------------------------------------

    def validate_highlighted(self, value: int | None) -> int | None:
        if value is None or not self.tickets:
            return None
        return max(0, min(value, len(self.tickets) - 1))

    def watch_highlighted(self, old: int | None, new: int | None) -> None:
        if new is not None and self.is_mounted:
            self.scroll_to_region(
                Region(0, new * CARD_STEP, self._width or 1, CARD_LINES),
                animate=False,
                force=True,
                immediate=True,
            )
        self.refresh()

    def action_cursor(self, step: int) -> None:
        if self.tickets:
            self.highlighted = 0 if self.highlighted is None else self.highlighted + step

    def action_edge(self, last: bool) -> None:
        if self.tickets:
            self.highlighted = len(self.tickets) - 1 if last else 0

    def action_page(self, direction: int) -> None:
        per_page = max(1, self.scrollable_content_region.height // CARD_STEP)
        self.action_cursor(direction * per_page)

    def action_open(self) -> None:
        number = self.highlighted_ticket
        if number is not None:
            self.post_message(self.TicketOpened(number))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        index = event.style.meta.get("card")
        if isinstance(index, int):
            self.focus()
            self.highlighted = index
            if event.chain >= 2:
                self.action_open()

    # ---- drawing ---------------------------------------------------------------------------

    def on_resize(self) -> None:
        width = self.scrollable_content_region.width
        if width != self._width:
            self._width = width
            self._strips.clear()
            self.virtual_size = Size(width, self.virtual_size.height)

    def _card_strips(self, index: int, width: int) -> tuple[Strip, ...]:
        strips = self._strips.get(index)
        if strips is None:
            strips = render_strips(render_card(self.tickets[index]), width, self.app.console)
            strips = tuple(strip.apply_meta({"card": index}) for strip in strips)
            self._strips[index] = strips
        return strips

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        index, row = divmod(self.scroll_offset.y + y, CARD_STEP)
        if row >= CARD_LINES or index >= len(self.tickets) or width <= 0:
            return Strip.blank(width, base)
        if width != self._width:  # drawn before the resize event arrived
            self._width = width
            self._strips.clear()
        if self.has_focus and index == self.highlighted:
            base += self.get_component_rich_style("status-column--cursor")
        return self._card_strips(index, width)[row].apply_style(base)


def render_strips(card: Text, width: int, console: Console) -> tuple[Strip, ...]:
    """A card's two lines as strips ``width`` cells wide, each cut with "…" when too long."""
    inner = max(1, width - 2 * PADDING)
    strips: list[Strip] = []
    lines = card.split("\n")[:CARD_LINES]
    while len(lines) < CARD_LINES:
        lines.append(Text())
    for line in lines:
        line.truncate(inner, overflow="ellipsis")
        segments = [Segment(" " * PADDING), *line.render(console), Segment(" " * PADDING)]
        strips.append(Strip(segments).adjust_cell_length(width, Style()))
    return tuple(strips)
