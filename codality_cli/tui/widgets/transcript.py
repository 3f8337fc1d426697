"""The transcript of any session kind (a ticket's runs, a discovery conversation), live or
replayed: streaming text, thinking, tool calls, messages, start and stop, fed the events every
kind streams (``block``, ``at``, ``kind``; see ``agent_stream.transcript_entry``).

Built for fast streams (bench/tui_stream.py): deltas only append to a string (``live.py`` already
joins those of one frame); a timer renders the blocks that changed up to twenty times a second,
resting after each render twice as long as it took (a busy machine gets fewer, bigger steps and
keys keep their share), and a text block is closed after ~8,000 characters at a line break so
a long answer never re-renders as one huge widget (textual #4586). Following the stream uses
Textual's anchoring, which keeps the view at the bottom within the same layout pass: scrolling
after each refresh instead cost a second full repaint per update. The anchor is set once the
blocks overflow the view (anchored, a short transcript would sit at the bottom of the pane).
Scrolling up pauses following; ``end`` (``jump_to_latest``) resumes it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from codality_cli.agent_stream import money, transcript_entry
from codality_cli.tui.widgets.tool_call import ToolCall

if TYPE_CHECKING:
    from codality_cli.api.event_types import (
        AgentCommit,
        AgentError,
        AgentHistoryTrimmed,
        AgentPreparing,
        AgentTextDelta,
        AgentThinkingDelta,
        AgentToolCall,
        AgentToolResult,
        AgentUserMessage,
        SessionView,
    )

ROLL_CHARS = 8000
FLUSH_INTERVAL_S = 0.05
# A render that took t delays the next one by BACKOFF × t (up to MAX_WAIT_S): on a busy machine
# the stream shows in bigger steps and keys still get their share of the frame time.
BACKOFF = 2.0
MAX_WAIT_S = 0.25


class TextBlock(Static):
    """A run of streamed assistant text."""

    DEFAULT_CSS = "TextBlock { padding: 0 1; }"

    def __init__(self) -> None:
        super().__init__("", markup=False)
        self.text = ""
        self.pending = ""

    @property
    def size_so_far(self) -> int:
        return len(self.text) + len(self.pending)

    def flush(self) -> None:
        self.text += self.pending
        self.pending = ""
        self.update(self.styled(self.text))

    def styled(self, text: str) -> Text:
        return Text(text)


class ThinkingBlock(TextBlock):
    """Extended thinking, dimmed; hidden while the transcript's ``show_thinking`` is off."""

    DEFAULT_CSS = "ThinkingBlock { padding: 0 1; color: $text-muted; }"

    def styled(self, text: str) -> Text:
        return Text(text, style="italic dim")


class NoteBlock(Static):
    """A one-off line: the user's message, an error, a run starting or ending."""

    DEFAULT_CSS = """
    NoteBlock { padding: 0 1; margin: 1 0 0 0; }
    NoteBlock.-user { color: $accent; }
    NoteBlock.-error { color: $error; }
    NoteBlock.-session { color: $text-muted; }
    """


class PreparingNote(NoteBlock):
    """What a run does before the model is asked, with a spinner until it is done."""

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, step: str) -> None:
        super().__init__("", markup=False, classes="-session")
        self.step = step
        self.frame = 0
        self.done = False

    def on_mount(self) -> None:
        self._spin = self.set_interval(0.1, self.tick)
        self.tick()

    def tick(self) -> None:
        self.frame += 1
        self.update(f"{self.FRAMES[self.frame % len(self.FRAMES)]} {self.step}")

    def finish(self, step: str) -> None:
        self.done = True
        if self.is_mounted:
            self._spin.stop()
        self.update(f"✓ {step}")


class Transcript(VerticalScroll, can_focus=True):
    """Blocks of one session's or conversation's transcript, fed with ``add_event(type, data)``
    (and ``add`` for a widget of the screen's own, a proposal card)."""

    DEFAULT_CSS = """
    Transcript { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("end", "jump_to_latest", "Latest", show=False)]

    show_thinking: reactive[bool] = reactive(True)
    following: reactive[bool] = reactive(True)

    class FollowChanged(Message):
        """Following the stream was paused (the user scrolled up) or resumed."""

        def __init__(self, following: bool) -> None:
            super().__init__()
            self.following = following

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._stream: TextBlock | None = None
        self._source: int | None = None  # the transcript block the open one shows
        self._shown = 0  # how much of that block's text it shows
        self._dirty: set[TextBlock] = set()
        self._open_calls: list[ToolCall] = []
        self._rest_until = 0.0

    def on_mount(self) -> None:
        self.set_interval(FLUSH_INTERVAL_S, self.flush)

    def on_resize(self) -> None:
        self._anchor_when_overflowing()

    def _grew(self) -> None:
        """Content was added: anchor at the first overflow (then Textual keeps following)."""
        if not self.is_anchored and self.following:
            self.call_after_refresh(self._anchor_when_overflowing)

    def _anchor_when_overflowing(self) -> None:
        overflowing = self.virtual_size.height > self.scrollable_content_region.height
        if overflowing and self.following and not self.is_anchored:
            self.anchor()
        elif not overflowing and self.is_anchored:
            self.anchor(False)

    def watch_show_thinking(self, show: bool) -> None:
        # Each thinking block's own ``display``, not a class on the transcript: a class change
        # restyles every block, the costliest thing a key could do to a long transcript.
        for block in self.query_children(ThinkingBlock):
            block.display = show

    def watch_following(self, following: bool) -> None:
        self.post_message(self.FollowChanged(following))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value < old_value and new_value < self.max_scroll_y:
            self.following = False
        elif new_value >= self.max_scroll_y:
            self.following = True

    def action_jump_to_latest(self) -> None:
        self.following = True
        self.scroll_end(animate=False)

    def clear(self) -> None:
        self.anchor(False)
        self._stream, self._source, self._shown = None, None, 0
        self._dirty.clear()
        self._open_calls.clear()
        self.remove_children()

    def add_event(self, type_: str, data: Mapping[str, Any]) -> None:
        """Take one event of a session (live, or a stored block of the history: the same
        payload as the event's, without ``session_id``; see ``api/event_types.py``)."""
        kind, data = transcript_entry(type_, data)
        if kind == "text_delta":
            delta = cast("AgentTextDelta", data)
            self._append(TextBlock, delta["text"], delta.get("block"), delta.get("at"))
        elif kind == "thinking_delta":
            thought = cast("AgentThinkingDelta", data)
            self._append(ThinkingBlock, thought["text"], thought.get("block"), thought.get("at"))
        elif kind == "tool_call":
            called = cast("AgentToolCall", data)
            call = ToolCall(called["name"], called["input"], called.get("tool_use_id"))
            if call.call_id is not None:  # a plan's call has none: its result is not reported
                self._open_calls.append(call)
            self.add(call)
        elif kind == "tool_result":
            self._finish_call(cast("AgentToolResult", data))
        elif kind == "user_message":
            said = cast("AgentUserMessage", data)
            self._note(f"you ({said['mode']}): {said['text']}", "-user")
        elif kind == "error":
            self._note(f"error: {cast('AgentError', data)['message']}", "-error")
        elif kind == "history_trimmed":
            trimmed = cast("AgentHistoryTrimmed", data)
            size = f"~{trimmed['tokens_before']} → ~{trimmed['tokens_after']} tokens"
            self._note(f"✂ history cut {trimmed['message']} ({size})", "-session")
        elif kind == "preparing":
            self._preparing(cast("AgentPreparing", data))
        elif kind == "commit":
            commit = cast("AgentCommit", data)
            subject = commit["message"].partition("\n")[0]
            self._note(f"committed {commit['sha'][:10]}: {subject}", "-session")
        elif kind == "started":
            self._cut_open_calls("interrupted")  # a run before it ended without a word
            self._note(f"── agent started ({cast('SessionView', data)['trigger']}) ──", "-session")
        elif kind == "stopped":
            session = cast("SessionView", data)
            ended = session["status"]
            self._cut_open_calls("no result" if ended == "completed" else ended)
            cost = f" · {money(session['cost_usd'])}" if session["cost_usd"] else ""
            tail = f": {session['summary']}" if session["summary"] else ""
            if ended != "completed" and session.get("error"):
                tail = f" ({session['error']}){tail}"  # why: a budget, a timeout, a failure
            self._note(f"── {session['status']}{cost}{tail} ──", "-session")

    def _append(
        self, block_type: type[TextBlock], text: str, source: int | None, at: int | None
    ) -> None:
        """Grow the open block; another transcript block (``source``) starts a new one, and
        a delta starting (``at``) inside what the block already shows gives only the rest."""
        if source is not None and source != self._source:
            self._stream, self._source, self._shown = None, source, 0
        if at is not None and at < self._shown:
            text = text[self._shown - at :]
        self._shown += len(text)
        if not text:
            return
        block = self._stream
        if type(block) is not block_type or block is None:
            block = self._new_block(block_type)
        elif block.size_so_far + len(text) > ROLL_CHARS and "\n" in text:
            cut = text.rindex("\n") + 1
            block.pending += text[:cut]
            self._dirty.add(block)
            text = text[cut:]
            block = self._new_block(block_type)
        block.pending += text
        self._stream = block
        self._dirty.add(block)

    def _new_block(self, block_type: type[TextBlock]) -> TextBlock:
        block = block_type()
        if block_type is ThinkingBlock:
            block.display = self.show_thinking
        self.add(block)
        return block

    def _finish_call(self, result: AgentToolResult) -> None:
        match = next((c for c in self._open_calls if c.call_id == result["tool_use_id"]), None)
        if match is None and self._open_calls:
            match = self._open_calls[0]
        if match is None:
            return
        self._open_calls.remove(match)
        match.set_result(result["ok"], result["output"])

    def _cut_open_calls(self, why: str) -> None:
        """Calls still waiting for a result when their run ends never get one: say so."""
        for call in self._open_calls:
            call.set_cut_short(why)
        self._open_calls.clear()

    def _preparing(self, event: AgentPreparing) -> None:
        """A spinner line per step; ``done`` turns the open one into a tick."""
        open_steps = [n for n in self.query_children(PreparingNote) if not n.done]
        if event["done"] and open_steps:
            open_steps[-1].finish(event["step"])
        elif event["done"]:
            self._note(f"✓ {event['step']}", "-session")
        else:
            self.add(PreparingNote(event["step"]))

    def _note(self, text: str, cls: str) -> None:
        self.add(NoteBlock(Text(text), classes=cls))

    def add(self, widget: Widget) -> None:
        """Show ``widget`` next; the text streaming before it is closed."""
        if not isinstance(widget, TextBlock):
            self._stream = None
        self.mount(widget)
        self._grew()

    def flush(self) -> None:
        """Render what arrived since the last tick (the anchor keeps the newest line in view)."""
        if not self._dirty or time.perf_counter() < self._rest_until:
            return
        for block in self._dirty:
            block.flush()
        self._dirty.clear()
        self._grew()
        began = time.perf_counter()
        self._rest_until = began + MAX_WAIT_S  # until this render is on screen, at most
        self.call_after_refresh(self._rendered, began)

    def _rendered(self, began: float) -> None:
        now = time.perf_counter()
        self._rest_until = now + min(MAX_WAIT_S, BACKOFF * (now - began))
