"""A small scripted Anthropic Messages endpoint.

It serves ``POST /v1/messages`` and streams the real SSE event sequence (``message_start``,
``content_block_*`` with thinking, text and ``tool_use`` whose JSON arrives split across
``input_json_delta`` frames, ``message_delta``, ``message_stop``) from a script of turns, so the
real anthropic SDK can be driven without a key or a network. ``codality demo`` runs it as a
subprocess; the tests reuse it (with request recording, error statuses and broken streams).

A script is a list of turns, one per request, each a dict:

- ``blocks``: ``{"type": "thinking"|"text", ...}`` or ``{"type": "tool_use", "name", "input"}``;
- ``stop_reason`` (default ``tool_use`` when a tool is used, else ``end_turn``);
- ``status`` + ``error_type``: answer with that HTTP error instead of a stream;
- ``error_event``: an SSE ``error`` frame of that type after the blocks;
- ``break_after``: drop the connection after that many blocks;
- ``delay_s``: pause between frames; ``usage``: ``{"input_tokens", "output_tokens"}`` instead
  of the bill;
- ``unchecked``: play the turn as written, whatever the request offered (a model or endpoint that
  ignores the tools and ``tool_choice`` it is sent).

A ``tool_use`` block's ``input`` gives only the values the script cares about: like a model
following the request's ``tools``, the server fills every other required property from the tool's
``input_schema`` and checks the whole input against it (``tool_input``). A turn that calls a tool
the request did not offer, ignores its ``tool_choice``, or gives an input the schema refuses is
answered with a 400 naming the problem, printed to stderr and kept in ``app[PROBLEMS]``; it stays
in the script. Each request takes the first turn that fits it (``fitting_turn``), so overlapping
calls (a title asked for while a reply streams) each get their own.

Requests are billed as the API bills them (``billing.py``: prompt caching, and the 400 "prompt is
too long" over ``app[CACHE].window`` tokens); a refused request takes no turn of the script.

``python -m codality_server.scripted --port 0 --script demo`` serves a named script.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from .billing import PromptCache, Refused, tokens_of
from .tool_input import SchemaProblem, build

Turn = dict[str, Any]

CHUNK = 24
_ids = itertools.count(1)

TURNS: web.AppKey[list[Turn]] = web.AppKey("scripted_turns")
REQUESTS: web.AppKey[list[dict[str, Any]]] = web.AppKey("scripted_requests")
CACHE: web.AppKey[PromptCache] = web.AppKey("scripted_cache")
#: Scripts of their own for requests to one model (a fast model's summaries), used first.
MODEL_TURNS: web.AppKey[dict[str, list[Turn]]] = web.AppKey("scripted_model_turns")
PROBLEMS: web.AppKey[list[str]] = web.AppKey("scripted_problems")

FINAL_TURN: Turn = {"blocks": [{"type": "text", "text": "Nothing left in the script; done."}]}


def _frame(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps({'type': event, **data})}\n\n".encode()


def _chunks(text: str, size: int = CHUNK) -> Iterator[str]:
    for start in range(0, max(len(text), 1), size):
        yield text[start : start + size]


def _block_frames(index: int, block: dict[str, Any]) -> Iterator[bytes]:
    """The start, delta and stop frames of one content block."""
    kind = block["type"]
    if kind == "thinking":
        start: dict[str, Any] = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": c} for c in _chunks(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": f"sig-{index}"})
    elif kind == "text":
        start = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": c} for c in _chunks(block["text"])]
    elif kind == "tool_use":
        start = {
            "type": "tool_use",
            "id": block.get("id") or f"toolu_{next(_ids):04d}",
            "name": block["name"],
            "input": {},
        }
        raw = json.dumps(block.get("input", {}))
        deltas = [{"type": "input_json_delta", "partial_json": c} for c in _chunks(raw, 16)]
    else:
        raise ValueError(f"unknown block type {kind!r}")
    yield _frame("content_block_start", {"index": index, "content_block": start})
    for delta in deltas:
        yield _frame("content_block_delta", {"index": index, "delta": delta})
    yield _frame("content_block_stop", {"index": index})


def _error_body(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}}


def _mismatch(body: dict[str, Any], turn: Turn) -> str | None:
    """Why the request can't be answered with ``turn`` (a tool it does not offer, a
    ``tool_choice`` the turn ignores), or None."""
    if turn.get("unchecked") or "status" in turn:
        return None
    offered = sorted(tool.get("name") for tool in body.get("tools", []))
    used = [block["name"] for block in turn.get("blocks", []) if block["type"] == "tool_use"]
    missing = [name for name in used if name not in offered]
    choice = body.get("tool_choice") or {"type": "auto"}
    if missing:
        return f"{missing[0]}: not among the request's tools {offered}"
    if choice["type"] == "tool" and choice["name"] not in used:
        return f"the request forces the tool {choice['name']}; the turn uses {used}"
    if choice["type"] == "any" and not used:
        return "the request forces a tool call; the turn uses none"
    if choice["type"] == "none" and used:
        return f"the request allows no tool call; the turn uses {used}"
    return None


def fitting_turn(turns: list[Turn], body: dict[str, Any]) -> int | None:
    """Where in ``turns`` the turn to answer the request with is (None: the script is done).

    Calls can overlap (a conversation is named while its reply streams): each takes the first
    turn that fits it, so a forced title tool gets the title's turn and the reply the rest, in
    order. When none fits, it is the next turn (to be refused, and left in the script).
    """
    for index, turn in enumerate(turns):
        if _mismatch(body, turn) is None:
            return index
    return 0 if turns else None


def played_blocks(body: dict[str, Any], turn: Turn) -> list[dict[str, Any]]:
    """The turn's blocks as a model following the request plays them: tool inputs built from
    the offered schemas, ``tool_choice`` obeyed; SchemaProblem says where the script doesn't."""
    blocks: list[dict[str, Any]] = turn.get("blocks", [])
    if turn.get("unchecked"):
        return blocks
    mismatch = _mismatch(body, turn)
    if mismatch:
        raise SchemaProblem(mismatch)
    schemas = {tool["name"]: tool["input_schema"] for tool in body.get("tools", [])}
    return [
        {**block, "input": build(schemas[block["name"]], block.get("input", {}), block["name"])}
        if block["type"] == "tool_use"
        else block
        for block in blocks
    ]


def _complain(request: web.Request, problem: str) -> web.Response:
    """A turn that does not follow the request: loud, so the script gets fixed."""
    message = f"scripted model: the script's turn does not follow the request: {problem}"
    request.app[PROBLEMS].append(message)
    print(message, file=sys.stderr, flush=True)
    return web.json_response(_error_body("invalid_request_error", message), status=400)


async def messages(request: web.Request) -> web.StreamResponse:
    """Answer one Messages request with the next turn of the script."""
    body = await request.json()
    recorded = request.app[REQUESTS]
    entry: dict[str, Any] = {
        "body": body,
        "headers": dict(request.headers),
        "received_at": time.monotonic(),
    }
    recorded.append(entry)
    turns = request.app[MODEL_TURNS].get(str(body.get("model"))) or request.app[TURNS]
    index = fitting_turn(turns, body)
    turn = FINAL_TURN if index is None else turns[index]
    if "status" in turn:
        turns.remove(turn)
        error_type = turn.get("error_type", "overloaded_error")
        return web.json_response(
            _error_body(error_type, turn.get("message", "Overloaded")), status=turn["status"]
        )
    try:
        bill = request.app[CACHE].bill(body)
    except Refused as exc:
        entry["refused"] = str(exc)
        return web.json_response(_error_body("invalid_request_error", str(exc)), status=400)
    try:
        blocks = played_blocks(body, turn)
    except SchemaProblem as exc:
        return _complain(request, str(exc))
    if index is not None:
        turns.pop(index)
    usage = turn.get("usage") or {
        **bill.usage(),
        "output_tokens": sum(tokens_of(block) for block in blocks),
    }
    entry["usage"] = usage
    stop = turn.get("stop_reason") or (
        "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    )
    delay = float(turn.get("delay_s", 0))
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "request-id": f"req_{len(recorded)}"}
    )
    await response.prepare(request)
    message = {
        "id": f"msg_{len(recorded):04d}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "scripted"),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1},
    }
    await response.write(_frame("message_start", {"message": message}))
    await response.write(b'event: ping\ndata: {"type": "ping"}\n\n')
    for index, block in enumerate([None, *blocks]):
        if block is not None:
            for frame in _block_frames(index - 1, block):
                await response.write(frame)
                if "first_delta_at" not in entry and b'"text_delta"' in frame:
                    entry["first_delta_at"] = time.monotonic()  # the model's first token
                if delay:
                    await asyncio.sleep(delay)
        if turn.get("break_after") == index:
            assert request.transport is not None
            request.transport.close()
            return response
    if "error_event" in turn:
        error = _error_body(turn["error_event"], "Overloaded")
        await response.write(f"event: error\ndata: {json.dumps(error)}\n\n".encode())
        return response
    await response.write(
        _frame(
            "message_delta",
            {
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        )
    )
    await response.write(_frame("message_stop", {}))
    await response.write_eof()
    entry["answered_at"] = time.monotonic()
    return response


def create_app(turns: list[Turn]) -> web.Application:
    """The endpoint with its own copy of ``turns``; requests are recorded in ``app[REQUESTS]``."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[TURNS] = [dict(turn) for turn in turns]
    # Each request is recorded with its body, headers, and monotonic ``received_at`` /
    # ``answered_at`` times (benchmarks measure the agent's own time between two calls), and
    # ``first_delta_at``, when the first text delta was written (the first token's latency).
    app[REQUESTS] = []
    app[CACHE] = PromptCache()
    app[MODEL_TURNS] = {}
    app[PROBLEMS] = []
    app.router.add_post("/v1/messages", messages)
    return app


async def serve_forever(host: str, port: int, turns: list[Turn]) -> None:
    """Serve ``turns`` on ``host:port`` (0: any free port); prints the URL, then waits."""
    runner = web.AppRunner(create_app(turns), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound = runner.addresses[0][1]
    print(f"http://{host}:{bound}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
