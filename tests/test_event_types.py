"""One event catalogue: the server publishes its models, the CLI decodes a generated copy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from codality_cli.api import event_types
from codality_server.domain.events import CATALOGUE, SHAPES, channel_kinds

ROOT = Path(__file__).resolve().parent.parent


def test_the_clis_event_types_are_generated_from_the_current_catalogue() -> None:
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_events.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, f"run `.venv/bin/python scripts/gen_events.py`: {check.stdout}"


def test_every_event_type_has_a_payload_and_channels_on_both_sides() -> None:
    assert set(event_types.PAYLOADS) == set(CATALOGUE)
    for type_, model in CATALOGUE.items():
        assert type_ == model.TYPE and model.CHANNELS and model.DESCRIPTION
        assert event_types.CHANNELS[type_] == tuple(kind.value for kind in model.CHANNELS)
        typed = event_types.PAYLOADS[type_]
        assert list(typed.__annotations__) == list(model.model_fields), type_
    assert set(event_types.CHANNEL_KINDS) == channel_kinds()
    for shape in SHAPES:
        assert list(getattr(event_types, shape.__name__).__annotations__) == list(
            shape.model_fields
        )


def test_the_next_features_events_are_in_the_catalogue() -> None:
    wanted = {
        *(f"plan:{v}" for v in ("created", "updated", "deleted", "delta")),
        *(f"discover:{v}" for v in ("delta", "tool_call", "message")),
        *(
            f"queue:{v}"
            for v in (
                "started",
                "advanced",
                "paused",
                "completed",
                "created",
                "updated",
                "cancelled",
                "deleted",
            )
        ),
        "pr:created",
        "pr:updated",
        "github:webhook",
    }
    assert wanted <= set(CATALOGUE)
