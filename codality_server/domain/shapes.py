"""The base of every shape the API and the events show: one pydantic model per entity.

A domain object's ``view()`` builds its shape, the event catalogue publishes it, the OpenAPI
document describes it (``http/views.py``) and ``scripts/gen_events.py`` writes it out for the
CLI, so the five can no longer disagree.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Shape(BaseModel):
    """A part of a payload; unknown fields are refused, so views and models cannot drift apart."""

    model_config = ConfigDict(extra="forbid", frozen=True)
