"""Base classes for request bodies and queries: unknown fields and wrong types are refused."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Body(BaseModel):
    """A JSON request body: strict types, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    """Query parameters arrive as strings, so types are coerced; unknown names are refused."""

    model_config = ConfigDict(extra="forbid")
