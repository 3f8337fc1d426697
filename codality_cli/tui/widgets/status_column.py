"""One board column: a titled, scrollable list of ticket cards.

The column owns only its own cursor; moving between columns is the board screen's job. ``enter``
posts ``TicketOpened`` with the ticket's number.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from codality_cli.tui.board_state import Ticket
from codality_cli.tui.widgets.ticket_card import render_card


class StatusColumn(OptionList):
    """The cards of one ticket status."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Next card", key_display="↓/j", show=False),
        Binding("k", "cursor_up", "Previous card", key_display="↑/k", show=False),
    ]

    class TicketOpened(Message):
        def __init__(self, number: int) -> None:
            super().__init__()
            self.number = number

    def __init__(self, status: str, title: str) -> None:
        super().__init__(id=f"column-{status}", classes="status-column")
        self.status = status
        self.title = title
        self.border_title = title

    def show_tickets(self, tickets: list[Ticket]) -> None:
        """Replace the cards, keeping the cursor on the same ticket when it is still here."""
        current = self.highlighted_ticket
        cards: list[Option | None] = []
        for ticket in tickets:
            if cards:
                cards.append(None)  # a separator line between cards
            cards.append(Option(render_card(ticket), id=str(ticket["number"])))
        self.set_options(cards)
        self.border_title = f"{self.title} ({len(tickets)})"
        if current is not None and str(current) in {str(t["number"]) for t in tickets}:
            self.highlighted = self.get_option_index(str(current))
        elif tickets:
            self.highlighted = 0

    @property
    def highlighted_ticket(self) -> int | None:
        """The number of the ticket under the cursor."""
        if self.highlighted is None or self.option_count == 0:
            return None
        option_id = self.get_option_at_index(self.highlighted).id
        return int(option_id) if option_id else None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.TicketOpened(int(event.option.id)))
