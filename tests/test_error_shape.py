"""Every route answers bad input with the one error envelope — never a 500."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from codality_server.http.openapi import openapi_path
from codality_server.http.routes import all_routes
from tests.conftest import RunningServer, create_project, create_ticket

# Streaming or process-level routes that a garbage request cannot exercise meaningfully.
SKIP = {("GET", "/api/events"), ("POST", "/api/settings/restart")}
PATH_VALUES = ["does-not-exist", "0", "-1", "99999999999999999999999", "%2e%2e", "x" * 300]
BODIES: list[bytes] = [b"", b"{", b"[]", b'"text"', b'{"unexpected": 1}', b"null", b'{"title": 5}']


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, openapi_path(path))


@pytest.mark.parametrize(
    "method,path",
    sorted({(r.method, r.path) for r in all_routes() if (r.method, r.path) not in SKIP}),
)
async def test_garbage_never_yields_a_500(
    server: RunningServer, api: httpx.AsyncClient, method: str, path: str
) -> None:
    for value in PATH_VALUES:
        url = _fill(path, value)
        for body in BODIES if method in ("POST", "PUT", "PATCH") else [b""]:
            response = await api.request(
                method, url, content=body, headers={"Content-Type": "application/json"}
            )
            assert response.status_code < 500, (method, url, body, response.text)
            if response.status_code >= 400:
                payload = response.json()
                assert set(payload) == {"error"}, payload
                assert payload["error"]["code"] and payload["error"]["message"]


WRONG_VALUES: list[object] = [None, 0, -1, 10**20, 1.5, "", "x", "../../etc/passwd", [], {}, True]


def _real_path(path: str, slug: str) -> str:
    values = {"slug": slug, "number": "1", "id": "1"}
    return re.sub(r"\{([^}:]+)(?::[^}]*)?\}", lambda m: values.get(m.group(1), "README.md"), path)


@pytest.mark.parametrize(
    "method,path",
    sorted(
        {
            (r.method, r.path)
            for r in all_routes()
            if (r.method, r.path) not in SKIP
            and (r.body is not None or r.query is not None)
            and r.path != "/api/auth/logout"
        }
    ),
)
async def test_wrong_types_on_real_resources_never_yield_a_500(
    server: RunningServer, api: httpx.AsyncClient, git_repo: Path, method: str, path: str
) -> None:
    """Every field of every body and query, one at a time, given values of the wrong kind."""
    project = await create_project(api, git_repo)
    await create_ticket(api, project["slug"])
    route = next(r for r in all_routes() if (r.method, r.path) == (method, path))
    url = _real_path(path, project["slug"])
    for model, where in ((route.body, "json"), (route.query, "params")):
        if model is None:
            continue
        for field in model.model_fields:
            for value in WRONG_VALUES:
                if where == "json":
                    response = await api.request(method, url, json={field: value})
                else:
                    response = await api.request(method, url, params={field: str(value)})
                assert response.status_code < 500, (method, url, field, value, response.text)
