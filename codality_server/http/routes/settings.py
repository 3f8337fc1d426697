"""Settings, environment values and restart (admin only, product.md §9)."""

from __future__ import annotations

from aiohttp import web

from codality_server.domain.settings import Settings
from codality_server.http.keys import SERVICES

from ..responses import json_accepted, json_ok
from ..route import Route
from ..validation import read_json


async def get_settings(request: web.Request) -> web.Response:
    return json_ok(await request.app[SERVICES].settings.get_all())


async def update_settings(request: web.Request) -> web.Response:
    # A partial object whose nested shapes the domain checks, naming the offending key.
    changes = await read_json(request)
    return json_ok(await request.app[SERVICES].settings.update(changes))


async def get_defaults(request: web.Request) -> web.Response:
    return json_ok(request.app[SERVICES].settings.defaults())


async def list_env(request: web.Request) -> web.Response:
    return json_ok(await request.app[SERVICES].settings.env_list())


async def update_env(request: web.Request) -> web.Response:
    changes = await read_json(request)
    return json_ok(await request.app[SERVICES].settings.update_env(changes))


async def restart(request: web.Request) -> web.Response:
    request.app[SERVICES].settings.restart()
    return json_accepted({"restarting": True})


ROUTES = [
    Route("GET", "/api/settings", get_settings, "Every setting", "admin"),
    Route(
        "PUT", "/api/settings", update_settings, "Change some settings (partial)", "admin", Settings
    ),
    Route("GET", "/api/settings/defaults", get_defaults, "Every setting's default", "admin"),
    Route("GET", "/api/settings/env", list_env, "Environment values, secrets masked", "admin"),
    Route(
        "PUT",
        "/api/settings/env",
        update_env,
        "Set environment values: {NAME: value}, null unsets",
        "admin",
    ),
    Route("POST", "/api/settings/restart", restart, "Restart the server on its address", "admin"),
]
