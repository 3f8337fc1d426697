"""A pydantic model as a tool's ``input_schema``: what the model is shown and must follow.

Models fill what the schema shows, so the schema must say everything plainly: every ``$ref`` is
replaced by its definition, and pydantic's ``title`` annotations (the class and field names, noise
to a model) are dropped — but only annotations: a *property* named ``title`` is a field the model
must be able to send, and it stays.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

#: Keywords whose value maps names to schemas (a property called "title" is not an annotation).
_NAMED_SCHEMAS = frozenset({"properties", "patternProperties"})


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        return _inline({**target, **siblings}, defs)
    inlined: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("$defs", "title"):
            continue
        if key in _NAMED_SCHEMAS and isinstance(value, dict):
            inlined[key] = {name: _inline(schema, defs) for name, schema in value.items()}
        else:
            inlined[key] = _inline(value, defs)
    return inlined


def input_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema with its references inlined and its title annotations dropped."""
    schema = model.model_json_schema()
    inlined: dict[str, Any] = _inline(schema, schema.get("$defs", {}))
    return inlined
