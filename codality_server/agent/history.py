"""Keeping a run's history inside the model's context window.

Before each call the loop asks ``HistoryKeeper.fit`` whether the request would fit the window
(less the answer's ``max_tokens`` and a margin). The count is an estimate: the input tokens the API
reported for the previous call, plus the answer it gave and whatever was added since at one token
per ``CHARS_PER_TOKEN`` characters of JSON (3 errs high: code and JSON run nearer 3.5-4 characters
a token). With no report to start from (the first call, or right after a trim) the whole request is
estimated that way, scaled by what a "prompt is too long" answer taught.

A history that does not fit is cut in large steps, down to ``TARGET_SHARE`` of what fits, so the
next cut is many turns away and the prompt cache, which breaks at every cut, pays off in between:

1. old tool results (all but the newest ``KEEP_RECENT`` messages') are cleared, oldest first;
2. if that is not enough, earlier turns are summarised by the fast model and the summary goes
   with the first message (the task), which stays;
3. if even that is not enough, the longest remaining tool results are shortened.

Each cut returns a note of what was dropped; the loop puts it in the transcript. A "prompt is too
long" answer (``PromptTooLong``) triggers the same with the API's own count, then a retry.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .model import Message, ModelFailure, ModelRequest, PromptTooLong, content_blocks

if TYPE_CHECKING:
    from .model import CallUsage, ModelClient

CHARS_PER_TOKEN = 3
#: Kept free of the window besides the answer's max_tokens: the estimate is not the tokenizer.
MARGIN_SHARE = 0.05
#: A cut goes down to this share of what fits.
TARGET_SHARE = 0.6
#: The newest messages whose tool results are never cleared (the model is working with them).
KEEP_RECENT = 4
CLEARED_START = "[output cleared to fit the context window"
CLEARED = CLEARED_START + ": {chars} characters]"
SUMMARY_MAX_TOKENS = 2_000
SHORTEST_RESULT = 2_000
SUMMARY_PROMPT = """\
Below is the earlier part of a coding agent's run, which no longer fits its context window. \
Summarise it for the agent itself, so it can continue without it: what it was asked, what it \
found out (files, functions, commands and their results), what it changed and committed, what \
failed, and what was left to do. Be specific and brief; no preamble.

{transcript}"""


def estimate(value: Any) -> int:
    """Tokens of ``value`` (any JSON) at ``CHARS_PER_TOKEN`` characters a token."""
    return math.ceil(len(json.dumps(value, ensure_ascii=False)) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class Trim:
    """A history cut to fit: the new messages, and what was dropped in words."""

    messages: list[Message]
    note: str
    tokens_before: int
    tokens_after: int


Cost = Callable[[Message], int]


class HistoryKeeper:
    """Fits one loop's history into ``window`` tokens; knows the last call's reported usage."""

    def __init__(self, client: ModelClient, request: ModelRequest, window: int) -> None:
        self.client = client
        self.max_tokens = request.max_tokens
        self._set_window(window)
        self._fixed = estimate(request.params())  # the tools and system prompt
        self._reported: tuple[int, int] | None = None  # (messages it covered, tokens)
        self._reported_input = 0  # the input tokens of that call alone
        self._scale = 1.0
        self.usage: CallUsage | None = None  # what summarising cost, for the loop to add

    def _set_window(self, window: int) -> None:
        self.fits = max(1_000, int(window * (1 - MARGIN_SHARE)) - self.max_tokens)
        self.target = int(self.fits * TARGET_SHARE)

    def observe(self, messages: list[Message], usage: CallUsage) -> None:
        """The call that answered with ``messages`` (the history plus its answer) used
        ``usage``: later estimates start from the API's own count."""
        self._reported = (len(messages), usage.tokens_in + usage.tokens_out)
        self._reported_input = usage.tokens_in

    def tokens(self, messages: list[Message]) -> int:
        """The estimated input tokens of a request with ``messages``."""
        if self._reported is not None and self._reported[0] <= len(messages):
            covered, reported = self._reported
            return reported + sum(self._cost(m) for m in messages[covered:])
        return self._base() + sum(self._cost(m) for m in messages)

    def resent_and_added(self, messages: list[Message]) -> tuple[int, int]:
        """The input tokens of a request with ``messages`` in two parts: what the last call
        reported as its input (sent again, now in the prompt cache) and the estimate of what
        came after that call's answer (its tool results, people's messages). With no report to
        start from, all of it is estimated and counted as added."""
        if self._reported is not None and self._reported[0] <= len(messages):
            added = sum(self._cost(m) for m in messages[self._reported[0] :])
            return self._reported_input, added
        return 0, self.tokens(messages)

    def _cost(self, message: Message) -> int:
        return math.ceil(estimate(message) * self._scale)

    def _base(self) -> int:
        return math.ceil(self._fixed * self._scale)

    async def fit(
        self, messages: list[Message], refused: PromptTooLong | None = None
    ) -> Trim | None:
        """``messages`` cut to fit, or None when they fit as they are. ``refused``: the API
        answered them "prompt is too long"; its counts correct the estimate and the window."""
        before = self.tokens(messages)
        if refused is not None:
            self._reported = None
            counted = refused.tokens or 2 * self.tokens(messages)
            self._scale *= max(1.0, counted / max(1, self.tokens(messages)))
            if refused.limit is not None and refused.limit < self.fits + self.max_tokens:
                self._set_window(refused.limit)
            before = max(counted, self.tokens(messages))
        elif before <= self.fits:
            return None
        self._reported = None  # the API's count was of the history before the cut
        notes: list[str] = []
        trimmed, cleared = clear_old_results(messages, self._cost, self.target - self._base())
        if cleared:
            notes.append(f"cleared the output of {cleared} old tool calls")
        if self.tokens(trimmed) > self.target:
            trimmed, summarised = await self._summarise(trimmed)
            if summarised:
                notes.append(f"summarised {summarised} earlier messages")
        if self.tokens(trimmed) > self.fits:
            trimmed, shortened = shorten_results(trimmed, self._cost, self.fits - self._base())
            if shortened:
                notes.append(f"shortened {shortened} tool outputs")
        note = "; ".join(notes) or "nothing left to drop"
        return Trim(trimmed, f"to fit the context window, {note}", before, self.tokens(trimmed))

    async def _summarise(self, messages: list[Message]) -> tuple[list[Message], int]:
        """The first message and the newest turns that fit half the target, with everything in
        between replaced by a summary the fast model writes (or, if it fails, a note)."""
        cut = summary_cut(messages, self._cost, self.target // 2 - self._base())
        if cut is None:
            return messages, 0
        dropped = messages[1:cut]
        request = ModelRequest(model=self.client.fast_model, max_tokens=SUMMARY_MAX_TOKENS)
        room = (self.client.context_window(request.model) - SUMMARY_MAX_TOKENS) // 2
        prompt = SUMMARY_PROMPT.format(transcript=as_text(dropped, room * CHARS_PER_TOKEN))
        try:
            reply = await self.client.complete(request, prompt)
        except ModelFailure as exc:
            summary = f"(no summary: {exc})"
        else:
            self.usage = reply.usage if self.usage is None else self.usage + reply.usage
            summary = reply.text
        first = messages[0]
        note = (
            f"[{len(dropped)} earlier messages of this run were dropped to fit the context "
            f"window. Summary of them:]\n{summary}"
        )
        content = [*content_blocks(first), {"type": "text", "text": note}]
        return [{**first, "content": content}, *messages[cut:]], len(dropped)


def clear_old_results(
    messages: list[Message], cost: Cost, target: int
) -> tuple[list[Message], int]:
    """Tool results older than the newest ``KEEP_RECENT`` messages cleared, oldest first, until
    the messages cost at most ``target``; returns them and how many results were cleared."""
    out = list(messages)
    total = sum(cost(m) for m in out)
    cleared = 0
    for index in range(max(0, len(out) - KEEP_RECENT)):
        if total <= target:
            break
        old = out[index]
        content = old.get("content")
        if old.get("role") != "user" or not isinstance(content, list):
            continue
        blocks = []
        for block in content:
            body = block.get("content") if block.get("type") == "tool_result" else None
            if body and not (isinstance(body, str) and body.startswith(CLEARED_START)):
                block = {**block, "content": CLEARED.format(chars=len(json.dumps(body)))}
                cleared += 1
            blocks.append(block)
        out[index] = {**old, "content": blocks}
        total += cost(out[index]) - cost(old)
    return out, cleared


def summary_cut(messages: list[Message], cost: Cost, keep: int) -> int | None:
    """Where the kept tail starts: the earliest assistant message after the first exchange from
    which the first message and the tail cost at most ``keep`` (the newest exchange is always
    kept); None when there is nothing between the first exchange and the newest."""
    candidates = [i for i in range(2, len(messages)) if messages[i].get("role") == "assistant"]
    if not candidates:
        return None
    tail = [0] * (len(messages) + 1)
    for i in range(len(messages) - 1, -1, -1):
        tail[i] = tail[i + 1] + cost(messages[i])
    first = cost(messages[0])
    return next((i for i in candidates if first + tail[i] <= keep), candidates[-1])


def shorten_results(messages: list[Message], cost: Cost, fits: int) -> tuple[list[Message], int]:
    """The longest tool results cut to their start and end until the messages cost at most
    ``fits``; returns them and how many results were shortened."""
    out = list(messages)
    total = sum(cost(m) for m in out)
    shortened: set[tuple[int, int]] = set()
    while total > fits:
        longest, where = SHORTEST_RESULT, None
        for i, message in enumerate(out):
            content = message.get("content")
            for j, block in enumerate(content if isinstance(content, list) else []):
                body = block.get("content")
                is_result = block.get("type") == "tool_result" and isinstance(body, str)
                if is_result and len(body) > longest:
                    longest, where = len(body), (i, j)
        if where is None:
            break
        i, j = where
        old = out[i]
        body = old["content"][j]["content"]
        quarter = len(body) // 4
        short = (
            f"{body[:quarter]}\n[… {len(body) - 2 * quarter} characters cut …]\n{body[-quarter:]}"
        )
        blocks = list(old["content"])
        blocks[j] = {**blocks[j], "content": short}
        out[i] = {**old, "content": blocks}
        total += cost(out[i]) - cost(old)
        shortened.add(where)
    return out, len(shortened)


def as_text(messages: list[Message], limit: int) -> str:
    """Messages as plain text for the summariser, cut in the middle beyond ``limit`` chars."""
    lines: list[str] = []
    for message in messages:
        for block in content_blocks(message):
            kind = block.get("type")
            if kind == "text":
                lines.append(f"{message.get('role')}: {block.get('text', '')}")
            elif kind == "tool_use":
                lines.append(f"tool call {block.get('name')}: {json.dumps(block.get('input'))}")
            elif kind == "tool_result":
                body = block.get("content")
                text = body if isinstance(body, str) else json.dumps(body)
                lines.append(f"tool result: {text[:4_000]}")
    text = "\n".join(lines)
    if len(text) > limit:
        half = limit // 2
        text = f"{text[:half]}\n[…]\n{text[-half:]}"
    return text
