"""How the scripted endpoint bills a request, as the Messages API does.

A request is a sequence of blocks in the API's cache order: the tools, the system prompt's blocks,
then each message's content blocks. A block is counted at one token per ``CHARS_PER_TOKEN``
characters of its JSON (a stand-in for the tokenizer that keeps tests exact). Prompt caching:

- a block with ``cache_control`` is a breakpoint (at most ``MAX_BREAKPOINTS``; a thinking block may
  not be one); the prefix ending there is written to the cache when it holds at least
  ``min_cacheable`` tokens and lives ``ttl_s`` from its last use;
- a request reads the longest cached prefix that ends at one of its breakpoints or at most
  ``LOOKBACK`` blocks before one;
- usage reports ``cache_read_input_tokens`` (that prefix), ``cache_creation_input_tokens`` (from
  there to the last breakpoint written) and ``input_tokens`` (the rest, after the last
  breakpoint).

A prompt over ``window`` tokens is refused with the API's own 400 body ("prompt is too long").
Caches are per model, as the API's are.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

CHARS_PER_TOKEN = 4
MAX_BREAKPOINTS = 4
LOOKBACK = 20
UNMARKABLE = frozenset({"thinking", "redacted_thinking"})


class Refused(Exception):
    """The request is one the API answers with a 400 ``invalid_request_error``."""


@dataclass(frozen=True)
class Bill:
    input_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int

    @property
    def total(self) -> int:
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    def usage(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
        }


def tokens_of(block: Any) -> int:
    """The stand-in token count of one block (its ``cache_control`` does not count)."""
    if isinstance(block, dict):
        block = {k: v for k, v in block.items() if k != "cache_control"}
    return max(1, math.ceil(len(json.dumps(block, sort_keys=True)) / CHARS_PER_TOKEN))


def request_blocks(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(where, block) for every block of a request, in the order the cache sees them."""
    blocks: list[tuple[str, dict[str, Any]]] = [("tool", dict(t)) for t in body.get("tools", [])]
    system = body.get("system")
    if isinstance(system, str):
        blocks.append(("system", {"type": "text", "text": system}))
    elif isinstance(system, list):
        blocks.extend(("system", dict(b)) for b in system)
    for message in body.get("messages", []):
        role = str(message.get("role"))
        content = message.get("content")
        if isinstance(content, str):
            blocks.append((role, {"type": "text", "text": content}))
        else:
            blocks.extend((role, dict(b)) for b in content or [])
    return blocks


@dataclass
class PromptCache:
    """The cached prefixes, by the hash of the model and every block up to the breakpoint."""

    min_cacheable: int = 1024
    ttl_s: float = 300.0
    #: Prompts over this many tokens are refused; None: no limit.
    window: int | None = None
    _entries: dict[str, float] = field(default_factory=dict)  # prefix hash → expiry

    def bill(self, body: dict[str, Any]) -> Bill:
        """The usage of ``body`` (writing what it marks to the cache); raises ``Refused``."""
        blocks = request_blocks(body)
        hashes, totals = self._prefixes(str(body.get("model")), blocks)
        total = totals[-1] if totals else 0
        if self.window is not None and total > self.window:
            raise Refused(f"prompt is too long: {total} tokens > {self.window} maximum")
        marks = [i for i, (_, block) in enumerate(blocks) if "cache_control" in block]
        if len(marks) > MAX_BREAKPOINTS:
            raise Refused(
                f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
                f"Found {len(marks)}."
            )
        for i in marks:
            if blocks[i][1].get("type") in UNMARKABLE:
                raise Refused(f"{blocks[i][1]['type']} blocks cannot be marked with cache_control")
        now = time.monotonic()
        self._entries = {h: t for h, t in self._entries.items() if t > now}
        read = self._longest_hit(marks, hashes, totals)
        written_to = read
        for i in marks:
            if totals[i] >= self.min_cacheable:
                self._entries[hashes[i]] = now + self.ttl_s
                written_to = max(written_to, totals[i])
        return Bill(total - written_to, written_to - read, read)

    def _prefixes(
        self, model: str, blocks: list[tuple[str, dict[str, Any]]]
    ) -> tuple[list[str], list[int]]:
        digest = hashlib.sha256(model.encode())
        hashes, totals, running = [], [], 0
        for where, block in blocks:
            plain = {k: v for k, v in block.items() if k != "cache_control"}
            digest.update(json.dumps([where, plain], sort_keys=True).encode())
            hashes.append(digest.copy().hexdigest())
            running += tokens_of(plain)
            totals.append(running)
        return hashes, totals

    def _longest_hit(self, marks: list[int], hashes: list[str], totals: list[int]) -> int:
        """Tokens of the longest cached prefix a breakpoint (or its lookback) reaches; a hit
        keeps that entry alive for another ``ttl_s``."""
        best = -1
        for mark in marks:
            for i in range(mark, max(-1, mark - LOOKBACK), -1):
                if hashes[i] in self._entries:
                    best = max(best, i)
                    break
        if best < 0:
            return 0
        self._entries[hashes[best]] = time.monotonic() + self.ttl_s
        return totals[best]
