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


async def test_every_session_kinds_text_deltas_join_and_a_plans_tool_call_stays_whole() -> None:
    """Discovery replies and plan rounds stream the same deltas as a ticket's run, so a frame of
    them reaches the app as one message too; a plan's ``tool_call`` delta is not text."""
    posted: list[Message] = []
    batcher = DeltaBatcher(posted.append, frame_s=60)
    reply = {"conversation_id": 3, "session_id": 8, "message_id": 9, "block": 21, "kind": "text"}
    for event_id, (text, at) in enumerate([("Two ", 0), ("words.", 4)], start=1):
        batcher.add(
            EventReceived(event_id, "discover:delta", "project:1", reply | {"text": text, "at": at})
        )
    round_ = {"plan_id": 4, "session_id": 5, "block": 30, "kind": "text", "at": 0}
    batcher.add(EventReceived(3, "plan:delta", "plan:4", round_ | {"text": "Reading"}))
    batcher.add(EventReceived(4, "plan:delta", "plan:4", round_ | {"text": " it.", "at": 7}))
    call = {"plan_id": 4, "session_id": 5, "kind": "tool_call", "text": "", "tool": "grep"}
    batcher.add(EventReceived(5, "plan:delta", "plan:4", call))
    batcher.add(EventReceived(6, "plan:delta", "plan:4", call))
    batcher.flush()
    assert shown(posted) == [
        ("discover:delta", "Two words.", 1, 2),
        ("plan:delta", "Reading it.", 3, 4),
        ("plan:delta", "", 5, 5),
        ("plan:delta", "", 6, 6),
    ]
    assert [m.data.get("at") for m in posted if isinstance(m, EventReceived)] == [0, 0, None, None]
