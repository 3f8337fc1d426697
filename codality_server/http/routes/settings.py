"""Settings, environment values and restart (admin only, product.md §9)."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field, RootModel

from codality_server.domain.settings import ENV_NAME_MAX, ENV_VALUE_MAX, Settings
from codality_server.http.keys import SERVICES

from ..responses import json_accepted, json_ok
from ..route import Route
from ..validation import read_json
from ..views import array_of, ref

EnvName = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$", max_length=ENV_NAME_MAX)]
EnvValue = Annotated[str, Field(pattern=r"^[^\x00]*$", max_length=ENV_VALUE_MAX)]


class EnvChanges(RootModel[dict[EnvName, EnvValue | None]]):
    """``{NAME: value}``; ``null`` or ``""`` unsets. The domain checks it (``env_changes``), naming
    the offending name; this model states the same rules in the OpenAPI document."""


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
    Route("GET", "/api/settings", get_settings, "Every setting", "admin", returns=ref("Settings")),
    Route(
        "PUT",
        "/api/settings",
        update_settings,
        "Change some settings (partial)",
        "admin",
        Settings,
        partial=True,
        returns=ref("Settings"),
    ),
    Route(
        "GET",
        "/api/settings/defaults",
        get_defaults,
        "Every setting's default",
        "admin",
        returns=ref("Settings"),
    ),
    Route(
        "GET",
        "/api/settings/env",
        list_env,
        "Environment values, secrets masked",
        "admin",
        returns=array_of("EnvEntry"),
    ),
    Route(
        "PUT",
        "/api/settings/env",
        update_env,
        "Set environment values: {NAME: value}, null unsets",
        "admin",
        EnvChanges,
        returns=array_of("EnvEntry"),
    ),
    Route(
        "POST",
        "/api/settings/restart",
        restart,
        "Restart the server on its address",
        "admin",
        status=202,
        returns=ref("Restarting"),
    ),
]
