"""Every typed application and request key in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from codality_server.domain.users import User
    from codality_server.events.bus import EventBus
    from codality_server.http.sse import StreamRegistry
    from codality_server.services import Services
    from codality_server.settings import ServerSettings

SETTINGS: web.AppKey[ServerSettings] = web.AppKey("settings")
SERVICES: web.AppKey[Services] = web.AppKey("services")
BUS: web.AppKey[EventBus] = web.AppKey("bus")
STREAMS: web.AppKey[StreamRegistry] = web.AppKey("sse_streams")
#: Routes whose body limit is not the default (``Route.body_limit``), for the request guard.
BODY_LIMITS: web.AppKey[dict[web.AbstractRoute, int]] = web.AppKey("body_limits")
USER: web.RequestKey[User] = web.RequestKey("user")
SESSION_TOKEN: web.RequestKey[str] = web.RequestKey("session_token")
