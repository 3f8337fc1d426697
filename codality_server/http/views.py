"""JSON Schemas of what the routes answer, for the OpenAPI document (``Route.returns``).

They describe the ``view()`` dicts of the domain objects. Every listed property is always present;
views may grow new properties without breaking the document (no ``additionalProperties: false``),
but a property that changes type or disappears fails the schemathesis run
(``tests/server/test_schemathesis.py``) and ``tests/server/test_openapi.py``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from codality_server.domain.pushes import PushState
from codality_server.domain.settings import Settings
from codality_server.domain.tickets import Kind, Priority, TicketStatus
from codality_server.domain.users import Role

Schema = dict[str, Any]

_STR: Schema = {"type": "string"}
_INT: Schema = {"type": "integer"}
_BOOL: Schema = {"type": "boolean"}
_STR_OR_NULL: Schema = {"type": ["string", "null"]}


def _obj(**properties: Schema) -> Schema:
    return {"type": "object", "required": list(properties), "properties": properties}


def _enum(values: type[StrEnum]) -> Schema:
    return {"type": "string", "enum": [member.value for member in values]}


def ref(name: str) -> Schema:
    assert name in SCHEMAS, name
    return {"$ref": f"#/components/schemas/{name}"}


def array_of(name: str) -> Schema:
    return {"type": "array", "items": ref(name)}


_PUSH = _obj(
    pushed={"type": ["boolean", "null"]},
    state=_enum(PushState),
    remote=_STR,
    branch=_STR,
    detail=_STR_OR_NULL,
    at=_STR_OR_NULL,
    retry={"anyOf": [_obj(command=_STR, request=_STR), {"type": "null"}]},
)
_TICKET = _obj(
    id=_INT,
    project_id=_INT,
    number=_INT,
    title=_STR,
    description=_STR,
    kind=_enum(Kind),
    priority=_enum(Priority),
    status=_enum(TicketStatus),
    assignee={"anyOf": [_INT, {"const": "agent"}, {"type": "null"}]},
    assignee_name=_STR_OR_NULL,
    branch=_STR_OR_NULL,
    worktree_path=_STR_OR_NULL,
    agent_status=_STR_OR_NULL,
    agent_cost_usd={"type": "number"},
    depends_on={"type": "array", "items": _INT},
    push={"anyOf": [_PUSH, {"type": "null"}]},
    created_by={"type": ["integer", "null"]},
    created_at=_STR,
    updated_at=_STR,
)
_USER = _obj(
    id=_INT,
    email=_STR,
    name=_STR,
    role=_enum(Role),
    git_identity=_obj(name=_STR, email=_STR),
    created_at=_STR,
    updated_at=_STR,
)
_SETTINGS = Settings.model_json_schema(ref_template="#/components/schemas/{model}")

#: Component name → schema; ``build_openapi`` adds them all to the document.
SCHEMAS: dict[str, Schema] = {
    **_SETTINGS.pop("$defs", {}),
    "Settings": _SETTINGS,
    "Ticket": _TICKET,
    "SearchHit": {
        "allOf": [
            {"$ref": "#/components/schemas/Ticket"},
            _obj(snippet=_STR, rank={"type": "number"}),
        ]
    },
    "Comment": _obj(
        id=_INT,
        ticket_id=_INT,
        author={"anyOf": [_obj(id=_INT, name=_STR, email=_STR), {"type": "null"}]},
        author_kind={"enum": ["user", "agent"]},
        body=_STR,
        created_at=_STR,
    ),
    "Project": _obj(
        id=_INT,
        slug=_STR,
        name=_STR,
        path=_STR,
        default_branch=_STR,
        protected_main=_BOOL,
        github={"anyOf": [_obj(owner=_STR, repo=_STR), {"type": "null"}]},
        created_at=_STR,
        updated_at=_STR,
    ),
    "User": _USER,
    "Person": _obj(id=_INT, name=_STR, email=_STR),
    "SignedIn": _obj(user={"$ref": "#/components/schemas/User"}, token=_STR),
    "Ok": {**_obj(ok={"const": True}), "properties": {"ok": {"const": True}, "message": _STR}},
    "SetupStatus": _obj(setup_required=_BOOL),
    "Health": _obj(status={"const": "ok"}, version=_STR, setup_required=_BOOL),
    "EnvEntry": _obj(
        name=_STR,
        set=_BOOL,
        secret=_BOOL,
        value=_STR_OR_NULL,
        source={"enum": ["store", "environment", None]},
    ),
    "Restarting": _obj(restarting={"const": True}),
    "OpenAPI": _obj(openapi=_STR, info={"type": "object"}, paths={"type": "object"}),
}
