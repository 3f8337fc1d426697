"""``ProseFilter``: a reply's prose, whatever pieces it streams in, without its JSON."""

from __future__ import annotations

import pytest

from codality_cli.prose import ProseFilter

REPLIES = [
    # (the model's text, what a person reads)
    ('Two.\n```json\n[{"a": 1}]\n```\nDone.', "Two.\nDone."),
    ('Bare:\n{"suggestions": [\n  {"a": 1}\n]}\n', "Bare:\n"),
    ("```\n[1, 2]\n```", ""),  # an untagged fence holding JSON
    ("Code:\n```python\nx = [1]\n```\n", "Code:\n```python\nx = [1]\n```\n"),
    ("[x] a checklist item\n{not json}\nend", "[x] a checklist item\n{not json}\nend"),
    ("Unclosed:\n```json\n[1,", "Unclosed:\n"),
    ("  ``inline`` ticks stay", "  ``inline`` ticks stay"),
]


@pytest.mark.parametrize(("reply", "prose"), REPLIES)
@pytest.mark.parametrize("piece", [1, 3, 24, 10_000])
def test_prose_is_the_same_whatever_the_pieces(reply: str, prose: str, piece: int) -> None:
    shown = ProseFilter()
    parts = [shown.feed(reply[at : at + piece]) for at in range(0, len(reply), piece)]
    assert "".join(parts) + shown.end() == prose


def test_prose_flows_as_it_streams() -> None:
    """Words are shown as they come, not a line at a time; only a line start waits."""
    shown = ProseFilter()
    assert shown.feed("Reading the ") == "Reading the "
    assert shown.feed("code.\n[") == "code.\n"
    assert shown.feed("1]\nok") == "ok"


def test_a_block_starts_afresh_after_the_end_of_one_cut_mid_line() -> None:
    shown = ProseFilter()
    assert shown.feed("Reading.") == "Reading." and shown.end() == ""
    assert shown.feed("```json\n[1]\n```\n") + shown.feed("Done.") + shown.end() == "Done."
