"""The OpenAPI document describes exactly the routes the server serves."""

from __future__ import annotations

import json
import re

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
        if "properties" in schemas[name]:
            assert set(schemas[name]["properties"]) == set(route.body.model_fields)
        else:  # a map of names to values (``PUT /api/settings/env``)
            assert schemas[name]["additionalProperties"] is False
            assert schemas[name]["patternProperties"]
        # A body with no required field may be left out: the server reads nothing as {}.
        assert operation["requestBody"]["required"] == bool(schemas[name].get("required"))


async def test_path_ids_are_positive_integers_and_emails_have_their_format(
    anon: httpx.AsyncClient,
) -> None:
    document = (await anon.get("/api/openapi.json")).json()
    params = {
        param["name"]: param["schema"]
        for operations in document["paths"].values()
        for operation in operations.values()
        for param in operation["parameters"]
        if param["in"] == "path"
    }
    for name in ("number", "id", "session_id"):
        assert params[name] == {"type": "integer", "minimum": 1, "maximum": 2**62}, name
    assert params["slug"] == {"type": "string", "minLength": 1}
    schemas = document["components"]["schemas"]
    assert schemas["OtpRequest"]["properties"]["email"]["format"] == "email"
    assert schemas["TicketCreate"]["properties"]["title"]["minLength"] == 1
    # a partial change requires nothing at any depth (nested objects merge), except inside a new
    # map entry, which has nothing to merge with
    change = schemas["SettingsChange"]
    assert "required" not in change
    assert "required" not in json.dumps(change["properties"]["kinds"])
    assert "required" in json.dumps(change["properties"]["prices"])
    ok = document["paths"]["/api/projects/{slug}/tickets"]["post"]["responses"]["201"]
    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Ticket"}


async def test_options_advertises_only_the_methods_a_path_has(
    api: httpx.AsyncClient,
) -> None:
    methods: dict[str, set[str]] = {}
    for route in all_routes():
        methods.setdefault(route.path, set()).add(route.method)
    for path, expected in methods.items():
        url = re.sub(r"\{[^}]+\}", "1", openapi_path(path)).replace("/1/search", "/search")
        response = await api.options(url)
        assert response.status_code == 405, (path, response.text)
        assert set(response.headers["Allow"].split(", ")) == expected, path
    # ``…/tickets/search`` also fits ``…/tickets/{number}``; it still has GET only
    allow = (await api.put("/api/projects/p/tickets/search", json={})).headers["Allow"]
    assert allow == "GET"


async def test_each_success_is_documented_with_its_exact_status(anon: httpx.AsyncClient) -> None:
    """A client reads 201 Created, 202 Accepted or 204 No Content from the document, never a
    "2XX" range; ``test_schemathesis`` checks that each is what the server answers."""
    document = (await anon.get("/api/openapi.json")).json()
    successes = {
        (method.upper(), path): sorted(code for code in operation["responses"] if code < "4")
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert all(re.fullmatch(r"[23]\d\d", code) for codes in successes.values() for code in codes)
    project = "/api/projects/{slug}"
    assert successes[("POST", f"{project}/plans")] == ["201"]
    assert successes[("DELETE", f"{project}/plans/{{id}}")] == ["204"]
    assert successes[("POST", f"{project}/tickets/{{number}}/agent/start")] == ["202"]
    assert successes[("POST", f"{project}/discover/conversations/{{id}}/messages")] == [
        "200",
        "202",
    ]
    assert successes[("GET", "/api/github/app/callback")] == ["302"]
    assert successes[("GET", "/healthz")] == ["200"]
