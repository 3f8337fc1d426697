"""OpenAPI 3.1 document generated from the route table, bodies from their pydantic models.

The document states what the server enforces and nothing looser: path ids are integers ≥ 1, a
body is required only when its model has required fields, a partial body (``Route.partial``)
has every field optional at every depth, and every error — 4xx or 5xx — is the one envelope.
"""

from __future__ import annotations

import re
from typing import Any

from codality_server import __version__

from .route import Route
from .validation import path_param_schema
from .views import SCHEMAS as VIEW_SCHEMAS

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
_REF = "#/components/schemas/{model}"
_ERROR_RESPONSE = {
    "description": "error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _parameters(route: Route, components: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": path_param_schema(name)}
        for name in re.findall(r"\{([^}:]+)(?::[^}]*)?\}", route.path)
    ]
    if route.query is not None:
        schema = route.query.model_json_schema(ref_template=_REF)
        components.update(schema.get("$defs", {}))
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            param = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if prop.get("type") == "array":
                param.update(style="form", explode=True)  # ?status=a&status=b
            params.append(param)
    return params


def openapi_path(path: str) -> str:
    """aiohttp's ``{name:regex}`` placeholders become OpenAPI's ``{name}``."""
    return re.sub(r"\{([^}:]+):[^}]*\}", r"{\1}", path)


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """``schema`` with every ``$ref`` into ``defs`` replaced by its target."""
    if isinstance(schema, list):
        return [_inline(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _inline(defs[ref.rsplit("/", 1)[-1]], defs)
    return {key: _inline(value, defs) for key, value in schema.items()}


def _all_optional(schema: Any) -> Any:
    """A partial change: no property is required at any depth (nested objects merge). A map
    entry is null, which removes it, or whole (a new key has nothing to merge with)."""
    if isinstance(schema, list):
        return [_all_optional(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    partial = {
        key: _all_optional(value)
        for key, value in schema.items()
        if key not in ("required", "additionalProperties", "patternProperties")
    }
    entry = schema.get("additionalProperties")
    if isinstance(entry, dict):
        partial["additionalProperties"] = {"anyOf": [entry, {"type": "null"}]}
    elif entry is not None:
        partial["additionalProperties"] = entry
    if isinstance(schema.get("patternProperties"), dict):
        partial["patternProperties"] = {
            pattern: {"anyOf": [sub, {"type": "null"}]}
            for pattern, sub in schema["patternProperties"].items()
        }
    return partial


def _closed_maps(schema: Any) -> Any:
    """pydantic states a ``dict`` whose keys have a pattern as ``patternProperties`` only, which
    would let any other key through; the server refuses those keys, so the document does too."""
    if isinstance(schema, list):
        return [_closed_maps(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed_maps(value) for key, value in schema.items()}
    if "patternProperties" in closed and "additionalProperties" not in closed:
        closed["additionalProperties"] = False
    return closed


def _request_body(route: Route, components: dict[str, Any]) -> dict[str, Any]:
    assert route.body is not None
    name = route.body.__name__
    if route.partial:
        raw = _closed_maps(route.body.model_json_schema())
        schema = _all_optional(_inline(raw, raw.pop("$defs", {})))
        name = f"{name}Change"
        required = False
    else:
        schema = _closed_maps(route.body.model_json_schema(ref_template=_REF))
        components.update(schema.pop("$defs", {}))
        required = bool(schema.get("required"))
    components[name] = schema
    return {
        # An empty body reads as {}: it is required only when some field is.
        "required": required,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
    }


def _success(route: Route) -> dict[str, Any]:
    """The exact status of each answer a success can be (201, 202, 204, a redirect's 302)."""
    statuses = [route.status, *route.other_statuses]
    return {str(status): _answer(route, status) for status in statuses}


def _answer(route: Route, status: int) -> dict[str, Any]:
    if status == 204:
        return {"description": "done; no body"}
    if 300 <= status < 400:
        return {"description": "a redirect; the Location header says where"}
    if route.media_types:
        content = {media: {"schema": {"type": "string"}} for media in route.media_types}
        return {"description": "success", "content": content}
    returns = route.other_returns.get(status, route.returns)
    if returns is None:
        return {"description": "success"}
    return {"description": "success", "content": {"application/json": {"schema": returns}}}


def build_openapi(routes: list[Route]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {"Error": _ERROR, **VIEW_SCHEMAS}
    for route in routes:
        operation: dict[str, Any] = {
            "summary": route.summary,
            "operationId": f"{route.method.lower()}_{route.handler.__module__.rsplit('.', 1)[-1]}"
            f"_{route.handler.__name__}",
            "tags": [route.tag or route.handler.__module__.rsplit(".", 1)[-1]],
            "parameters": _parameters(route, components),
            "responses": {
                **_success(route),
                "4XX": _ERROR_RESPONSE,
                "5XX": _ERROR_RESPONSE,
            },
        }
        if route.access == "public":
            operation["security"] = []
        if route.body is not None:
            operation["requestBody"] = _request_body(route, components)
        paths.setdefault(openapi_path(route.path), {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Codality local API", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "codality_session"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"session": []}, {"bearer": []}],
    }
