"""Rendering a session in the terminal, live or from its stored transcript: the one renderer of
every session kind (a ticket's ``agent:*`` events, a plan's ``plan:delta``, a discovery reply's
``discover:*``), since they all stream the same deltas (``block``, ``at``, ``kind``).

The model's text is the data, so it goes to stdout as it arrives; everything about the run —
thinking (dimmed), one line per tool call with its outcome, user messages, errors and the final
summary — goes to stderr. Piped, stdout therefore holds just what the agent said.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .output import money as money  # its home; the TUI imports it from here too
from .prose import ProseFilter
from .states import state_words
from .streams import Streams

ARG_PREVIEW = 70
TERMINAL_STATUSES = frozenset({"completed", "failed", "stopped", "timed_out", "interrupted"})
# Said by every follower of the event stream when it breaks; it then resumes where it was.
CONNECTION_LOST = "connection lost — reconnecting"


# The arguments that say what a tool call is about, most telling first.
PREVIEW_KEYS = ("command", "path", "pattern", "query", "topic", "number")


def tool_preview(tool_input: Any, width: int = ARG_PREVIEW) -> str:
    """The most telling argument of a tool call, on one short line (the CLI's tool lines and
    the TUI's ``ToolCall`` alike); without one, its arguments as ``name=value`` (``name=…`` for
    a list or an object): never the input as JSON."""
    if isinstance(tool_input, dict):
        for key in PREVIEW_KEYS:
            if key in tool_input:
                value = str(tool_input[key])
                break
        else:
            value = " ".join(
                f"{key}={item if isinstance(item, str | int | float) else '…'}"
                for key, item in tool_input.items()
            )
    else:
        value = "" if tool_input is None else str(tool_input)
    value = " ".join(value.split())
    return value if len(value) <= width else value[: width - 1] + "…"


def _file_lines(output: str) -> str:
    """What ``read_file`` returned, counted as the file's lines (blank ones too): ``42 lines``.

    An event carries at most 4 KB of it, then ``[… N more chars, M more lines]``: the lines
    shown plus those. A read the tool itself cut short says so in its last line, shown instead.
    """
    shown, cut, note = output.rpartition("\n[… ")
    left_out = re.fullmatch(r"\d+ more chars, (\d+) more lines\]", note) if cut else None
    if left_out:
        return counted(shown.count("\n") + int(left_out.group(1)), "line")
    last = output.rstrip("\n").rsplit("\n", 1)[-1]
    if last.startswith("[truncated"):
        return _outcome(last)
    lines = output.count("\n") + (0 if output.endswith("\n") or not output else 1)
    return counted(lines, "line")


def counted(count: int, noun: str) -> str:
    """``1 line``, ``3 turns``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _outcome(output: str, tool: str | None = None) -> str:
    """A tool's result on one short line."""
    if tool == "read_file":
        return _file_lines(output)
    lines = [line for line in output.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    first = " ".join(lines[-1].split()) if lines[-1].startswith("[") else " ".join(lines[0].split())
    first = first if len(first) <= ARG_PREVIEW else first[: ARG_PREVIEW - 1] + "…"
    return f"{first} ({len(lines)} lines)" if len(lines) > 1 else first


def tokens_line(session: dict[str, Any]) -> str:
    """``1200 in (900 cache read, 200 cache write) / 340 out tokens``: input as it was billed."""
    read, write = session.get("tokens_cache_read") or 0, session.get("tokens_cache_write") or 0
    cached = f" ({read} cache read, {write} cache write)" if read or write else ""
    return f"{session.get('tokens_in', 0)} in{cached} / {session.get('tokens_out', 0)} out tokens"


def session_line(session: dict[str, Any]) -> str:
    """``completed · 3 turns · 1200 in (900 cache read, 200 cache write) / 340 out tokens ·
    $0.0087 · sandbox bubblewrap``."""
    status = state_words(str(session.get("status")))
    turns = counted(int(session.get("turns") or 0), "turn")
    line = f"{status} · {turns} · {tokens_line(session)} · {money(session.get('cost_usd'))}"
    return f"{line} · {sandbox_label(session['sandbox'])}" if session.get("sandbox") else line


def sandbox_label(kind: str) -> str:
    """Which sandbox ran the agent's commands; ``none`` spelled out, as it is the risky one."""
    return "no sandbox (commands ran on the host)" if kind == "none" else f"sandbox {kind}"


def transcript_entry(type_: str, data: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """What an event of any session kind adds to its transcript, named as ``agent:*`` names it:
    a ``discover:delta`` or ``plan:delta`` is a ``text_delta`` or ``thinking_delta`` by its
    ``kind``; a plan's ``tool_call`` delta a ``tool_call`` without an id (no result follows);
    ``discover:tool_call`` a ``tool_call``, and so on."""
    name = type_.partition(":")[2]
    if name != "delta":
        return name, dict(data)
    kind = str(data.get("kind") or "text")
    if kind == "tool_call":
        return "tool_call", {"name": data.get("tool"), "input": data.get("input")}
    return f"{kind}_delta", dict(data)


def stored_entries(
    blocks: Sequence[Mapping[str, Any]], family: str
) -> list[tuple[str, dict[str, Any]]]:
    """Stored transcript blocks as the (event type, data) pairs their live events were, so a
    replay takes the very path the live stream took: a block's ``data`` is its event's payload;
    a whole text block reads as one delta from the block's start, so the live deltas after it
    continue it (``family``: ``agent``, ``discover`` …)."""
    pairs: list[tuple[str, dict[str, Any]]] = []
    for block in blocks:
        data = dict(block.get("data") or {})
        if block.get("kind") in ("text", "thinking"):
            data |= {"block": block.get("id"), "at": 0}
            pairs.append((f"{family}:{block.get('kind')}_delta", data))
        else:
            pairs.append((f"{family}:{block.get('kind')}", data))
    return pairs


@dataclass
class AgentPrinter:
    """Turns events or transcript blocks into terminal output; remembers what it has shown."""

    streams: Streams
    show_thinking: bool = True
    text_on_stderr: bool = False
    # The reply's answer is JSON that the command shows its own way: print only the prose.
    hide_json: bool = False
    _at_line_start: bool = True
    _in_thinking: bool = False
    _shown_tools: set[str] = field(default_factory=set)
    _pending_call: str | None = None
    _pending_tool: str | None = None  # the name of the tool of ``_pending_call``
    # The transcript block the open text or thinking line belongs to: another one starts afresh.
    _block: int | None = None
    # How much of each text or thinking block has been shown, so a delta repeating what a stored
    # block already held (a viewer that joined mid-block) prints only the rest.
    _shown_text: dict[int, int] = field(default_factory=dict)
    # A tool call shown at once, its line left open for the outcome to complete it.
    _open_call: str | None = None
    # A preparation step is shown on the open line, for "ready" to replace.
    _pending_prep: bool = False
    # The error just shown, when nothing came after it: the session's end that carries the same
    # reason (a budget, a failure) does not say it again.
    _last_error: str | None = None
    # With ``hide_json``: the open text block's filter, and that block.
    _prose: ProseFilter | None = None
    _prose_block: int | None = None

    # -- low level ---------------------------------------------------------------------------

    def _err(self, text: str, style: str | None = None) -> None:
        self._start_err_line()
        console = self.streams.console("err")
        console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)

    def _end_text(self) -> None:
        if not self._at_line_start:
            # Flushed, so that whoever reads stdout line by line gets the line now.
            stream = self.streams.err if self.text_on_stderr else self.streams.out
            stream.write("\n")
            stream.flush()
            self._at_line_start = True

    def _close_open_call(self) -> None:
        """Something else must print: end the open tool line (its outcome comes whole later)."""
        if self._open_call is not None:
            self.streams.err.write("\n")
            self.streams.err.flush()
            self._open_call = None

    def _new_block(self, block: int | None) -> None:
        """A delta or stored block of another message than the open line's ends that line."""
        if block is not None and block != self._block:
            self._close_thinking()
            self._end_text()
        self._block = block

    def _text(self, text: str, block: int | None = None) -> None:
        if not self.hide_json:
            self._show_text(text, block)
            return
        if self._prose is None or block is None or block != self._prose_block:
            self._flush_prose()
            self._prose, self._prose_block = ProseFilter(), block
        shown = self._prose.feed(text)
        if shown:
            self._show_text(shown, block)
        if block is None:  # a block without an id is whole
            self._flush_prose()

    def _flush_prose(self) -> None:
        """The open text block is over: show what its filter held that is not JSON."""
        if self._prose is not None:
            rest, block = self._prose.end(), self._prose_block
            self._prose = self._prose_block = None
            if rest:
                self._show_text(rest, block)

    def _show_text(self, text: str, block: int | None) -> None:
        self._close_open_call()
        self._new_block(block)
        if self._in_thinking:
            self.streams.err.write("\n")
            self._in_thinking = False
        if self.text_on_stderr:
            self.streams.err.write(text)
            self.streams.err.flush()
        else:
            self.streams.write(text)
        self._at_line_start = text.endswith("\n")

    def _thinking(self, text: str, block: int | None = None) -> None:
        self._flush_prose()
        self._new_block(block)
        if not self.show_thinking:
            return
        self._close_open_call()
        self._end_text()
        self._in_thinking = True
        console = self.streams.console("err")
        console.print(text, style="dim italic", end="", markup=False, highlight=False)

    def _close_thinking(self) -> None:
        if self._in_thinking:
            self.streams.err.write("\n")
            self.streams.err.flush()
            self._in_thinking = False

    # -- one event or block ------------------------------------------------------------------

    def event(self, type_: str, data: Mapping[str, Any]) -> dict[str, Any] | None:
        """Show one event of a session (see ``transcript_entry``); returns the session when it
        is ``agent:stopped``."""
        kind, data = transcript_entry(type_, data)
        said, self._last_error = self._last_error, None
        if kind in ("text_delta", "thinking_delta"):
            block, text = data.get("block"), self._unseen(data)
            if text:
                show = self._text if kind == "text_delta" else self._thinking
                show(text, block if isinstance(block, int) else None)
        elif kind == "started":
            sandbox = sandbox_label(str(data.get("sandbox")))
            self._err(f"── agent started · {data.get('model')} · {sandbox}", "bold")
        elif kind == "stopped":
            self.finish()
            self._err(f"── {session_line(data)}", "bold")
            if data.get("error") and data["error"] != said:
                self._err(f"   {data['error']}", "red")
            return data
        else:
            self._entry(kind, data)
        return None

    def _entry(self, kind: str, data: dict[str, Any]) -> None:
        """Show one entry that is not a delta: a tool call or result, a message, an error …"""
        if kind == "tool_call":
            self._close_thinking()
            tool_id = str(data.get("tool_use_id"))
            if tool_id in self._shown_tools:
                return
            call = f"▸ {data.get('name')} {tool_preview(data.get('input'))}".rstrip()
            if "tool_use_id" not in data:  # a plan's call: its result is not reported
                self._err(call)
                return
            self._err_open(call)
            self._pending_call = call
            self._pending_tool = str(data.get("name"))
        elif kind == "tool_result":
            tool_id = str(data.get("tool_use_id"))
            if tool_id in self._shown_tools:
                return
            self._shown_tools.add(tool_id)
            call = self._pending_call or f"▸ {data.get('name')}"
            tool = str(data.get("name") or self._pending_tool or "")
            self._pending_call = self._pending_tool = None
            ok = bool(data.get("ok"))
            output = str(data.get("output", ""))
            outcome = f"  {'✓' if ok else '✗'} {_outcome(output, tool if ok else None)}".rstrip()
            self._complete_call(call, outcome, None if ok else "red")
        elif kind == "user_message":
            self._close_thinking()
            self._err(f"» you ({data.get('mode', 'steer')}): {data.get('text')}", "cyan")
        elif kind == "error":
            self._close_thinking()
            self._err(f"! {data.get('message')}", "yellow")
            self._last_error = str(data.get("message"))
        elif kind == "preparing":
            self._preparing(str(data.get("step", "")), bool(data.get("done")))
        elif kind == "commit":
            self._err(f"● committed {str(data.get('sha', ''))[:10]}", "green")
        elif kind == "history_trimmed":
            self._close_thinking()
            size = f"~{data.get('tokens_before')} → ~{data.get('tokens_after')} tokens"
            self._err(f"✂ history cut {data.get('message')} ({size})", "yellow")

    def _preparing(self, step: str, done: bool) -> None:
        """The run getting ready. On a terminal the step in progress is a line the next one
        replaces (``⋯ preparing the worktree``); the step that ends it stays, everywhere, as
        ``✓ worktree ready in 2.6 s`` (it is stored, so a replay prints the same line)."""
        if not done:
            if self.streams.err_tty:
                self._err_open(f"⋯ {step}")
                self._pending_prep = True
            return
        if self._pending_prep and self._open_call is not None:
            self.streams.err.write("\r\x1b[2K")
            self._open_call = None
        self._pending_prep = False
        self._err(f"✓ {step}", "dim")

    def _unseen(self, data: dict[str, Any]) -> str:
        """The part of a delta not shown yet (all of it unless it says where it starts)."""
        text = str(data.get("text", ""))
        block, at = data.get("block"), data.get("at")
        if not isinstance(block, int) or not isinstance(at, int):
            return text
        shown = self._shown_text.get(block, 0)
        self._shown_text[block] = max(shown, at + len(text))
        return text[max(0, shown - at) :]

    def _complete_call(self, call: str, outcome: str, style: str | None) -> None:
        """Finish the tool's line: on the open line when it is still open, else in full."""
        if self._open_call != call:
            self._err(call + outcome, style)
            return
        self._open_call = None
        console = self.streams.console("err")
        console.print(outcome, style=style, markup=False, highlight=False)

    def _start_err_line(self) -> None:
        self._flush_prose()
        self._close_open_call()
        self._end_text()

    def _err_open(self, text: str) -> None:
        """Start a stderr line now (a tool call) and leave it open for its outcome."""
        self._start_err_line()
        console = self.streams.console("err")
        console.print(text, end="", markup=False, highlight=False, soft_wrap=True)
        self.streams.err.flush()
        self._open_call = text

    def transcript(self, blocks: Sequence[Mapping[str, Any]]) -> None:
        """A stored session transcript, shown as its live events were (the prompt, which the
        user wrote, is not repeated: no live view shows it)."""
        for type_, data in stored_entries(blocks, "agent"):
            self.event(type_, data)

    def connection_lost(self) -> None:
        """Say on stderr, on a line of its own, that the stream broke and is being resumed."""
        self._close_thinking()
        self._err(CONNECTION_LOST, "yellow")

    def heading(self, text: str) -> None:
        """A bold line of its own on stderr (a queue's next ticket), after whatever is open."""
        self.finish()
        self._err(text, "bold")

    def finish(self) -> None:
        """End what is open: a thinking line, a text line, a tool call that never returned."""
        self._flush_prose()
        self._close_thinking()
        self._end_text()
        if self._pending_call:
            self._complete_call(self._pending_call, "  …", "yellow")
            self._pending_call = None
