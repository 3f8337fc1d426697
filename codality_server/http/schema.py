"""Base classes for request bodies and queries: unknown fields and wrong types are refused."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# The largest integer SQLite stores; a bigger one in any request is bad input, not a crash.
SQL_INT_MAX = 2**63 - 1
Count = Annotated[int, Field(ge=0, le=SQL_INT_MAX)]
RowId = Annotated[int, Field(ge=1, le=SQL_INT_MAX)]


class Body(BaseModel):
    """A JSON request body: strict types, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    """Query parameters arrive as strings, so types are coerced; unknown names are refused."""

    model_config = ConfigDict(extra="forbid")
