"""Application wiring: keys, middlewares, the lifecycle of resources, routes. Nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from codality_server import __version__
from codality_server.db.database import Database
from codality_server.db.migrate import migrate
from codality_server.events.bus import EventBus
from codality_server.http.keys import BUS, SERVICES, SETTINGS, STREAMS
from codality_server.http.middlewares import error_envelope, request_guard
from codality_server.http.route import MAX_BODY_BYTES
from codality_server.http.routes import setup_routes
from codality_server.http.sse import StreamRegistry
from codality_server.services import Services
from codality_server.services.base import Core
from codality_server.settings import ServerSettings


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Open the database, migrate, build the services; undo it all in reverse on shutdown."""
    settings = app[SETTINGS]
    settings.prepare_dirs()
    db = Database(settings.db_path)
    await db.open()
    try:
        await migrate(db)
        services = Services(Core(db=db, bus=app[BUS], config=settings))
        app[SERVICES] = services
        await services.start()
        try:
            yield
        finally:
            await services.stop()
    finally:
        await db.close()


#: Sent on every answer, errors and event streams included: clients tell a Codality server from
#: any other HTTP server at the address they were given (a 404 page is not "ticket not found").
SERVER_HEADER = "Codality-Version"


async def _name_the_server(request: web.Request, response: web.StreamResponse) -> None:
    response.headers[SERVER_HEADER] = __version__


async def _end_streams(app: web.Application) -> None:
    app[STREAMS].cancel_all()


def create_app(settings: ServerSettings) -> web.Application:
    app = web.Application(
        middlewares=[error_envelope, request_guard],
        client_max_size=MAX_BODY_BYTES,
        # Bodies are plain JSON: the guard refuses any Content-Encoding with a 415, so the
        # parser must not try to inflate one first (a gzip bomb, or brotli without its library).
        handler_args={"auto_decompress": False},
    )
    app[SETTINGS] = settings
    app[BUS] = EventBus(settings.event_ring_size, settings.subscriber_queue_size)
    app[STREAMS] = StreamRegistry()
    app.cleanup_ctx.append(_lifecycle)
    app.on_shutdown.append(_end_streams)
    app.on_response_prepare.append(_name_the_server)
    setup_routes(app, body_budget=settings.body_budget_bytes)
    return app
