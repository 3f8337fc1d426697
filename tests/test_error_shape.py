"""Every route answers bad input with the one error envelope — never a 500."""

from __future__ import annotations

import re

import httpx
import pytest

from codality_server.http.openapi import openapi_path
from codality_server.http.routes import all_routes
from tests.conftest import RunningServer

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
