"""Base classes for request bodies and queries: unknown fields and wrong types are refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from codality_server.services.auth import EMAIL_MAX, EMAIL_PATTERN

# The largest integer SQLite stores; a bigger one in any request is bad input, not a crash.
SQL_INT_MAX = 2**63 - 1
Count = Annotated[int, Field(ge=0, le=SQL_INT_MAX)]
RowId = Annotated[int, Field(ge=1, le=SQL_INT_MAX)]


def _email_format(schema: dict[str, Any]) -> None:
    # The document says "email" (a validator every client has) rather than the regular
    # expression, which generators are very slow to satisfy; the server's is stricter only in
    # refusing quoted local parts and address literals.
    schema.pop("pattern", None)
    schema["format"] = "email"
    schema["description"] = "an e-mail address (no quoted local part or [address literal])"


# The addresses ``normalise_email`` takes.
Email = Annotated[
    str, Field(pattern=EMAIL_PATTERN, max_length=EMAIL_MAX, json_schema_extra=_email_format)
]


# Text the server strips and then requires: at least one character that is not whitespace.
NonBlank = Annotated[str, Field(min_length=1, pattern=r"\S")]
# A display name (``profile.clean_name``): 1-100 characters, no ``<``, ``>`` or control characters.
DisplayName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[^<>\x00-\x1f\x7f-\x9f]*[^<>\s\x00-\x1f\x7f-\x9f][^<>\x00-\x1f\x7f-\x9f]*$",
    ),
]


# Whitespace only: where a field takes it to mean "back to the default".
Blank = Annotated[str, Field(pattern=r"^\s*$")]


def stated(*alternatives: Any) -> Callable[[dict[str, Any]], None]:
    """``json_schema_extra`` for a field the domain checks (with its own messages naming the
    field): the document states the types it accepts, one of ``alternatives``."""
    schemas = [TypeAdapter(kind).json_schema() for kind in alternatives]

    def replace(schema: dict[str, Any]) -> None:
        kept: dict[str, Any] = {
            key: schema[key] for key in ("title", "description", "default") if key in schema
        }
        schema.clear()
        schema.update(kept, anyOf=schemas)

    return replace


def at_least_one_of(*fields: str) -> dict[str, Any]:
    """``json_schema_extra`` for a partial update: some field must be given, and not as null."""
    return {
        "anyOf": [
            {"required": [name], "properties": {name: {"not": {"type": "null"}}}} for name in fields
        ]
    }


class Body(BaseModel):
    """A JSON request body: strict types, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    """Query parameters arrive as strings, so types are coerced; unknown names are refused."""

    model_config = ConfigDict(extra="forbid")
