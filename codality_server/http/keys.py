"""Every typed application and request key in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from codality_server.domain.users import User
    from codality_server.events.bus import EventBus
    from codality_server.http.body_budget import BodyAllowance, BodyBudget
    from codality_server.http.route import Route
    from codality_server.http.sse import StreamRegistry
    from codality_server.services import Services
    from codality_server.settings import ServerSettings

SETTINGS: web.AppKey[ServerSettings] = web.AppKey("settings")
SERVICES: web.AppKey[Services] = web.AppKey("services")
BUS: web.AppKey[EventBus] = web.AppKey("bus")
STREAMS: web.AppKey[StreamRegistry] = web.AppKey("sse_streams")
#: Each aiohttp route's row, for the request guard (its body limit, who reads its body).
ROUTE_ROWS: web.AppKey[dict[web.AbstractRoute, Route]] = web.AppKey("route_rows")
#: The bytes of request bodies held at once, across every request.
BODY_BUDGET: web.AppKey[BodyBudget] = web.AppKey("body_budget")
#: The request's share of that budget, and its body once read whole.
BODY_ALLOWANCE: web.RequestKey[BodyAllowance] = web.RequestKey("body_allowance")
BODY: web.RequestKey[bytes] = web.RequestKey("body")
USER: web.RequestKey[User] = web.RequestKey("user")
SESSION_TOKEN: web.RequestKey[str] = web.RequestKey("session_token")
