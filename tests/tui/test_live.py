"""``DeltaBatcher``: a frame's agent deltas reach the app as one message, and nothing reorders."""

from __future__ import annotations

import asyncio

from textual.message import Message

from codality_cli.tui.live import DeltaBatcher
from codality_cli.tui.messages import EventReceived


def delta(event_id: int, text: str, session: int = 1, kind: str = "text") -> EventReceived:
    data = {"session_id": session, "text": text}
    return EventReceived(event_id, f"agent:{kind}_delta", "ticket:7", data)


def shown(posted: list[Message]) -> list[tuple[str, str, int | None, int | None]]:
    return [
        (m.type, str(m.data.get("text", "")), m.first_event_id, m.event_id)
        for m in posted
        if isinstance(m, EventReceived)
    ]


async def test_deltas_join_until_another_event_and_keep_their_order() -> None:
    posted: list[Message] = []
    batcher = DeltaBatcher(posted.append, frame_s=60)
    for event_id, text in enumerate(["Let ", "me ", "look."], start=1):
        batcher.add(delta(event_id, text))
    assert posted == []  # held for the frame
    call = {"session_id": 1, "tool_use_id": "t1", "name": "bash", "input": {}}
    batcher.add(EventReceived(4, "agent:tool_call", "ticket:7", call))
    batcher.add(delta(5, "Hmm.", kind="thinking"))
    batcher.add(delta(6, "Other run.", session=2))
    batcher.add(delta(7, " Still.", session=2))
    batcher.flush()
    assert shown(posted) == [
        ("agent:text_delta", "Let me look.", 1, 3),
        ("agent:tool_call", "", 4, 4),
        ("agent:thinking_delta", "Hmm.", 5, 5),
        ("agent:text_delta", "Other run. Still.", 6, 7),
    ]


async def test_a_joined_run_is_posted_a_frame_after_its_first_delta() -> None:
    posted: list[Message] = []
    batcher = DeltaBatcher(posted.append, frame_s=0.01)
    batcher.add(delta(1, "Hello"))
    batcher.add(delta(2, ", world"))
    async with asyncio.timeout(5):
        while not posted:
            await asyncio.sleep(0.01)
    assert shown(posted) == [("agent:text_delta", "Hello, world", 1, 2)]
    batcher.flush()  # nothing left: nothing more posted
    assert len(posted) == 1


async def test_deltas_of_two_transcript_blocks_stay_apart() -> None:
    posted: list[Message] = []
    batcher = DeltaBatcher(posted.append, frame_s=60)
    for event_id, (text, block, at) in enumerate(
        [("One ", 11, 0), ("message.", 11, 4), ("Two.", 12, 0)], start=1
    ):
        message = delta(event_id, text)
        message.data.update(block=block, at=at)
        batcher.add(message)
    batcher.flush()
    assert shown(posted) == [
        ("agent:text_delta", "One message.", 1, 2),
        ("agent:text_delta", "Two.", 3, 3),
    ]
    assert [(m.data["block"], m.data["at"]) for m in posted if isinstance(m, EventReceived)] == [
        (11, 0),
        (12, 0),
    ]
