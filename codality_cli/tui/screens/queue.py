"""Work queues: the project's queues on the left, the chosen one's tickets and their states on the
right, live from the event stream.

Keys act on the chosen queue (``s`` start, ``x`` cancel, ``r`` release, ``D`` delete, ``n`` a new
one) and on the ticket under the cursor (``K``/``J`` move a pending ticket up or down, ``enter``
opens it — the running one's live transcript is on its ticket screen).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from codality_cli.tui.messages import EventReceived, TicketOpenRequested
from codality_cli.tui.screens.base import LiveScreen
from codality_cli.tui.screens.confirm import ConfirmScreen
from codality_cli.tui.screens.prompt import PromptScreen
from codality_cli.tui.widgets.status_bar import ConnectionBanner
from codality_cli.tui.widgets.title_bar import TitleBar

if TYPE_CHECKING:
    from codality_cli.api.models import QueueItemView
    from codality_cli.api.models import QueueView as Queue

STATUS_STYLES = {
    "pending": "dim",
    "running": "bold green",
    "paused": "bold yellow",
    "completed": "green",
    "cancelled": "red",
    "done": "green",
    "failed": "bold red",
    "skipped": "dim",
}


def queue_label(queue: Queue) -> Text:
    """A queue in the list: name, then status and progress."""
    counts = queue.get("progress") or {}
    status = str(queue.get("status", ""))
    label = Text(no_wrap=True, overflow="ellipsis")
    label.append(f"{queue.get('name', '')}\n", style="bold")
    label.append(status, style=STATUS_STYLES.get(status, ""))
    label.append(f" · {counts.get('done', 0)}/{counts.get('total', 0)} done", style="dim")
    return label


def item_label(item: QueueItemView) -> Text:
    """A ticket of the queue: its state, number and title, and why it failed."""
    status = str(item.get("status", ""))
    label = Text(no_wrap=True, overflow="ellipsis")
    label.append(f"{status:<8}", style=STATUS_STYLES.get(status, ""))
    label.append(f" #{item.get('ticket')} ", style="bold")
    label.append(str(item.get("title", "")))
    if item.get("session"):
        label.append(f"  session {item['session']}", style="dim")
    if item.get("error"):
        label.append(f"\n         {item['error']}", style="red")
    return label


def queue_header(queue: Queue) -> Text:
    text = Text()
    status = str(queue.get("status", ""))
    text.append(f"{queue.get('name', '')}  ", style="bold")
    text.append(status, style=STATUS_STYLES.get(status, ""))
    options = ["merge each" if queue.get("merge_each") else "no merge"]
    options.append(f"max parallel {queue.get('max_parallel', 1)}")
    text.append(f"  ({', '.join(options)})", style="dim")
    if queue.get("reason"):
        text.append(f"\n{queue['reason']}", style="yellow")
    if queue.get("description"):
        text.append(f"\n{queue['description']}", style="italic")
    return text


def moved(numbers: list[int], number: int, step: int) -> list[int] | None:
    """``numbers`` with ``number`` moved ``step`` places; None when it cannot move."""
    index = numbers.index(number)
    target = index + step
    if not 0 <= target < len(numbers):
        return None
    order = list(numbers)
    order[index], order[target] = order[target], order[index]
    return order


def parse_new_queue(answer: str) -> tuple[str, list[int]] | None:
    """``Night run: 3 5 8`` → (name, numbers); None when it is not that shape."""
    name, _, rest = answer.rpartition(":")
    words = rest.replace(",", " ").replace("#", " ").split()
    if not name.strip() or not words or not all(word.isdigit() for word in words):
        return None
    return name.strip(), [int(word) for word in words]


class QueueScreen(LiveScreen):
    HELP_TITLE = "Work queues"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("tab", "switch_pane", "Queues/tickets", show=False),
        Binding("s", "start", "Start"),
        Binding("x", "cancel_queue", "Cancel"),
        Binding("r", "release", "Release"),
        Binding("K", "move(-1)", "Move up", key_display="K"),
        Binding("J", "move(1)", "Move down", key_display="J"),
        Binding("n", "new_queue", "New queue"),
        Binding("D", "delete_queue", "Delete", key_display="D"),
    ]

    def __init__(self, slug: str, project_id: int | None = None) -> None:
        super().__init__(id="queues")
        self.slug = slug
        self.project_id = project_id
        self.queues: dict[int, Queue] = {}
        self.chosen: int | None = None

    def compose(self) -> ComposeResult:
        yield TitleBar(show_clock=False)
        yield ConnectionBanner()
        with Horizontal(id="queue-body"):
            yield OptionList(id="queue-list")
            with Vertical(id="queue-pane"):
                yield Static("no queue yet — n: make one", id="queue-header")
                yield OptionList(id="queue-items")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Work queues"
        self.sub_title = self.slug
        self.query_one("#queue-list", OptionList).focus()
        self.load()

    # ---- state → widgets -------------------------------------------------------------------

    @property
    def queue(self) -> Queue | None:
        return self.queues.get(self.chosen) if self.chosen is not None else None

    @property
    def current_item(self) -> QueueItemView | None:
        items = self.query_one("#queue-items", OptionList)
        queue = self.queue
        if queue is None or items.highlighted is None or not queue.get("items"):
            return None
        option_id = items.get_option_at_index(items.highlighted).id
        return next((i for i in queue["items"] if str(i["ticket"]) == option_id), None)

    def _show_list(self) -> None:
        listing = self.query_one("#queue-list", OptionList)
        options = [Option(queue_label(q), id=str(q["id"])) for q in self.queues.values()]
        listing.set_options(options)
        if self.chosen not in self.queues:
            self.chosen = next(iter(self.queues), None)
        if self.chosen is not None:
            listing.highlighted = listing.get_option_index(str(self.chosen))
        self._show_queue()

    def _show_queue(self) -> None:
        queue = self.queue
        header = self.query_one("#queue-header", Static)
        items = self.query_one("#queue-items", OptionList)
        if queue is None:
            header.update("no queue yet — n: make one")
            items.clear_options()
            return
        header.update(queue_header(queue))
        current = self.current_item
        items.set_options(
            [Option(item_label(item), id=str(item["ticket"])) for item in queue["items"]]
        )
        if current is not None:
            items.highlighted = items.get_option_index(str(current["ticket"]))
        elif queue["items"]:
            items.highlighted = 0

    def _keep(self, queue: Queue) -> None:
        self.queues[int(queue["id"])] = queue
        self._show_list()

    # ---- loading and live events -------------------------------------------------------------

    @work(exclusive=True, group="queues-load")
    async def load(self) -> None:
        queues = await self.attempt(self.api.queues.list(self.slug), "Loading the queues")
        if queues is None:
            return
        if self.project_id is None:
            project = await self.attempt(self.api.projects.get(self.slug), "Loading the project")
            self.project_id = int(project["id"]) if project else None
        self.queues = {int(q["id"]): q for q in queues}
        self._show_list()

    def on_event_received(self, event: EventReceived) -> None:
        if not event.type.startswith("queue:"):
            return
        queue = event.data.get("queue")
        if event.type == "queue:deleted":
            if event.data.get("project_id") == self.project_id:
                self.queues.pop(int(event.data.get("id", 0)), None)
                self._show_list()
        elif isinstance(queue, dict) and queue.get("project_id") == self.project_id:
            self._keep(cast("Queue", queue))  # every queue:* event carries the queue's view

    def on_connection_restored(self) -> None:
        self.load()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        chosen = event.option.id
        if event.option_list.id == "queue-list" and chosen and int(chosen) != self.chosen:
            self.chosen = int(chosen)
            self._show_queue()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "queue-list":
            self.query_one("#queue-items", OptionList).focus()
        elif event.option.id:
            self.app.post_message(TicketOpenRequested(self.slug, int(event.option.id)))

    # ---- keys ------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss()

    def action_switch_pane(self) -> None:
        listing = self.query_one("#queue-list", OptionList)
        items = self.query_one("#queue-items", OptionList)
        (listing if items.has_focus else items).focus()

    @work(group="queue-actions")
    async def action_move(self, step: int) -> None:
        queue, item = self.queue, self.current_item
        if queue is None or item is None:
            return
        if item["status"] != "pending":
            self.notify(f"#{item['ticket']} is {item['status']}; only pending tickets move")
            return
        order = moved([int(i["ticket"]) for i in queue["items"]], int(item["ticket"]), step)
        if order is None:
            return
        changed = await self.attempt(
            self.api.queues.update(self.slug, int(queue["id"]), {"tickets": order}),
            "Reordering the queue",
        )
        if changed is not None:
            self._keep(changed)

    @work(group="queue-actions")
    async def action_start(self) -> None:
        queue = self.queue
        if queue is None:
            return
        started = await self.attempt(
            self.api.queues.start(self.slug, int(queue["id"])), "Starting the queue"
        )
        if started is not None:
            self._keep(started)
            self.notify(f"Started queue {started['name']!r}")

    def action_cancel_queue(self) -> None:
        queue = self.queue
        if queue is not None:
            question = f"Cancel queue {queue['name']!r}? Its running agents are stopped."
            self.app.push_screen(ConfirmScreen(question, "Cancel queue"), self._cancel_confirmed)

    def _cancel_confirmed(self, confirmed: bool | None) -> None:
        if confirmed and self.chosen is not None:
            self.cancel_queue(self.chosen)

    @work(group="queue-actions")
    async def cancel_queue(self, queue_id: int) -> None:
        cancelled = await self.attempt(
            self.api.queues.cancel(self.slug, queue_id), "Cancelling the queue"
        )
        if cancelled is not None:
            self._keep(cancelled)

    @work(group="queue-actions")
    async def action_release(self) -> None:
        queue = self.queue
        if queue is None:
            return
        released = await self.attempt(
            self.api.queues.release(self.slug, int(queue["id"])), "Releasing the queue"
        )
        if released is not None:
            self._keep(released)

    def action_new_queue(self) -> None:
        question = "New queue — a name, a colon, then ticket numbers in order (Night run: 3 5 8)"
        self.app.push_screen(PromptScreen(question, "Night run: 3 5 8"), self._new_queue_answered)

    def _new_queue_answered(self, answer: str | None) -> None:
        if not answer:
            return
        parsed = parse_new_queue(answer)
        if parsed is None:
            self.notify("Write a name, a colon, then ticket numbers", severity="warning")
            return
        self.create_queue(*parsed)

    @work(group="queue-actions")
    async def create_queue(self, name: str, numbers: list[int]) -> None:
        made = await self.attempt(
            self.api.queues.create(self.slug, {"name": name, "tickets": numbers}),
            "Making the queue",
        )
        if made is not None:
            self.chosen = int(made["id"])
            self._keep(made)
            self.notify(f"Made queue {made['name']!r}")

    def action_delete_queue(self) -> None:
        queue = self.queue
        if queue is not None:
            question = f"Delete queue {queue['name']!r}? Its tickets and their work stay."
            self.app.push_screen(ConfirmScreen(question, "Delete"), self._delete_confirmed)

    def _delete_confirmed(self, confirmed: bool | None) -> None:
        if confirmed and self.chosen is not None:
            self.delete_queue(self.chosen)

    @work(group="queue-actions")
    async def delete_queue(self, queue_id: int) -> None:
        async def delete() -> bool:
            await self.api.queues.delete(self.slug, queue_id)
            return True

        if await self.attempt(delete(), "Deleting the queue"):
            self.queues.pop(queue_id, None)
            self._show_list()
