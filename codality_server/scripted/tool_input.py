"""Tool inputs as a model that follows the request's schemas sends them.

A script names the tool and gives the values it cares about; ``build`` fills in every other
required property from the ``input_schema`` the request sent (a value of the right type, within
its bounds), and ``problems`` checks the result against that schema. A script value the schema
does not allow, a required property the schema never defines, or a schema keyword this checker
does not know are all reported, never passed over: a fake model that sends whatever it was given
is how a server sending unusable schemas goes unnoticed.

Only the JSON Schema keywords tool schemas use are understood (listed below); anything else is a
problem to report, so the check can never be quietly laxer than the schema.
"""

from __future__ import annotations

import re
from typing import Any

#: Keywords that only describe: nothing to check.
ANNOTATIONS = frozenset({"description", "default", "examples", "title", "$schema"})
#: Keywords checked here.
CHECKED = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "anyOf",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minItems",
        "maxItems",
    }
)
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}
_MISSING: Any = object()


class SchemaProblem(Exception):
    """The script's tool input (or the schema itself) can't be used; the message says why."""


def _is(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[kind])


def problems(schema: Any, value: Any, where: str = "input") -> list[str]:
    """Every way ``value`` breaks ``schema`` (empty when it is valid)."""
    if not isinstance(schema, dict):
        return [f"{where}: the schema is not an object: {schema!r}"]
    unknown = set(schema) - CHECKED - ANNOTATIONS
    if unknown:
        return [f"{where}: the schema uses {sorted(unknown)}, which the scripted model can't check"]
    found: list[str] = []
    if "anyOf" in schema:
        branches = [problems(branch, value, where) for branch in schema["anyOf"]]
        if all(branches):
            found.append(f"{where}: matches no choice of anyOf ({'; '.join(branches[0])})")
    types = schema.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else list(types)
        if not any(_is(value, kind) for kind in allowed):
            return [*found, f"{where}: {value!r} is not of type {'/'.join(allowed)}"]
    if "const" in schema and value != schema["const"]:
        found.append(f"{where}: must be {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, str):
        found += _string_problems(schema, value, where)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        found += _number_problems(schema, value, where)
    elif isinstance(value, list):
        found += _array_problems(schema, value, where)
    elif isinstance(value, dict):
        found += _object_problems(schema, value, where)
    return found


def _string_problems(schema: dict[str, Any], value: str, where: str) -> list[str]:
    found = []
    if len(value) < schema.get("minLength", 0):
        found.append(f"{where}: shorter than {schema['minLength']} characters")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        found.append(f"{where}: longer than {schema['maxLength']} characters")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        found.append(f"{where}: {value!r} does not match {schema['pattern']!r}")
    return found


def _number_problems(schema: dict[str, Any], value: float, where: str) -> list[str]:
    found = []
    if "minimum" in schema and value < schema["minimum"]:
        found.append(f"{where}: less than {schema['minimum']}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        found.append(f"{where}: not more than {schema['exclusiveMinimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        found.append(f"{where}: more than {schema['maximum']}")
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        found.append(f"{where}: not less than {schema['exclusiveMaximum']}")
    return found


def _array_problems(schema: dict[str, Any], value: list[Any], where: str) -> list[str]:
    found = []
    if len(value) < schema.get("minItems", 0):
        found.append(f"{where}: fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        found.append(f"{where}: more than {schema['maxItems']} items")
    if "items" in schema:
        for index, item in enumerate(value):
            found += problems(schema["items"], item, f"{where}[{index}]")
    return found


def _object_problems(schema: dict[str, Any], value: dict[str, Any], where: str) -> list[str]:
    found = []
    properties: dict[str, Any] = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in properties and schema.get("additionalProperties") is False:
            found.append(f"{where}: requires {name!r}, which the schema never defines")
        elif name not in value:
            found.append(f"{where}: {name!r} is required")
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            found += problems(properties[name], item, f"{where}.{name}")
        elif extra is False:
            found.append(f"{where}: {name!r} is not a property the schema allows")
        elif isinstance(extra, dict):
            found += problems(extra, item, f"{where}.{name}")
    return found


def build(schema: dict[str, Any], given: Any, tool: str) -> Any:
    """The input a schema-following model sends: the script's values (``given``), with every
    required property the script left out filled in; SchemaProblem when it still isn't valid."""
    value = _fill(schema, given, tool)
    found = problems(schema, value, tool)
    if found:
        raise SchemaProblem("; ".join(found))
    return value


def _fill(schema: Any, given: Any, name: str) -> Any:
    if not isinstance(schema, dict):
        return given
    if "anyOf" in schema:
        return _fill_choice(schema["anyOf"], given, name)
    types = schema.get("type")
    kind = types if isinstance(types, str) else next((t for t in types or [] if t != "null"), None)
    if given is not _MISSING:
        if kind == "object" and isinstance(given, dict):
            return _fill_object(schema, given)
        if kind == "array" and isinstance(given, list) and "items" in schema:
            return [_fill(schema["items"], item, f"{name}[{i}]") for i, item in enumerate(given)]
        return given
    for keyword in ("const", "default"):
        if keyword in schema:
            return schema[keyword]
    if "enum" in schema:
        return schema["enum"][0]
    return _invent(schema, kind, name)


def _fill_choice(choices: list[Any], given: Any, name: str) -> Any:
    """The first choice that makes a valid value (a non-null one when nothing is given)."""
    ordered = sorted(choices, key=lambda choice: choice.get("type") == "null")
    for choice in ordered:
        value = _fill(choice, given, name)
        if not problems(choice, value, name):
            return value
    return given


def _fill_object(schema: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = schema.get("properties", {})
    filled = {
        key: _fill(properties[key], value, key) if key in properties else value
        for key, value in given.items()
    }
    for key in schema.get("required", []):
        if key not in filled and key in properties:
            filled[key] = _fill(properties[key], _MISSING, key)
    return filled


def _invent(schema: dict[str, Any], kind: str | None, name: str) -> Any:
    """A value of ``kind`` within the schema's bounds, for a property the script left out."""
    if kind == "object":
        return _fill_object(schema, {})
    if kind == "array":
        return [
            _fill(schema.get("items"), _MISSING, name) for _ in range(schema.get("minItems", 0))
        ]
    if kind == "string":
        text = f"scripted {name}".ljust(schema.get("minLength", 0), ".")
        return text[: schema.get("maxLength", len(text))]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
        return min(low, schema.get("maximum", low))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    raise SchemaProblem(f"{name}: the schema gives no type to fill it with")
