"""The OpenAPI document describes exactly the routes the server serves."""

from __future__ import annotations

import httpx

from codality_server.http.openapi import openapi_path
from codality_server.http.routes import all_routes
from tests.conftest import RunningServer


async def test_openapi_equals_the_router(server: RunningServer, anon: httpx.AsyncClient) -> None:
    document = (await anon.get("/api/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    described = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    served = {
        (route.method, openapi_path(route.resource.canonical))
        for route in server.app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    assert described == served


async def test_every_body_is_described(anon: httpx.AsyncClient) -> None:
    document = (await anon.get("/api/openapi.json")).json()
    schemas = document["components"]["schemas"]
    for route in all_routes():
        operation = document["paths"][openapi_path(route.path)][route.method.lower()]
        if route.body is None:
            assert "requestBody" not in operation
            continue
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        name = ref.rsplit("/", 1)[-1]
        assert schemas[name]["type"] == "object"
        assert set(schemas[name]["properties"]) == set(route.body.model_fields)
