"""Serving the app, with malformed HTTP answered in the JSON error envelope.

aiohttp 3.14 answers a request its parser rejects (an over-long request line, a bad header) from
``RequestHandler.handle_error``, before routing and middlewares: a ``text/plain`` body quoting the
offending bytes, and a traceback in the log for every such request. It offers no public hook for
that response; aiohttp 4 will send these through the middleware chain instead
(``BaseRequest.pre_handler_error``, aio-libs/aiohttp#12925). Until then ``ApiRunner`` builds each
connection's protocol from a subclass that overrides ``handle_error``. Its documented knobs
(``handler_args``: ``auto_decompress``, line and header limits) stay in ``create_app``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong

from .responses import error_body

log = logging.getLogger("codality.http")


def _describe(status: int, exc: BaseException | None) -> tuple[str, str]:
    """A code and a message that name the problem without repeating the client's bytes."""
    if status == 504:
        return "timeout", "the request took too long"
    if status >= 500:
        return "internal", "internal server error; see the server log"
    if isinstance(exc, LineTooLong):
        return "bad_request", "the request line or a header is too long"
    if isinstance(exc, BadHttpMessage):
        return "bad_request", f"malformed HTTP request ({type(exc).__name__})"
    return "bad_request", "malformed HTTP request"


class _BrokenOffNotes:
    """Clients that hang up before their body ends: anyone can do it thousands of times, so the log
    gets one line a minute at most, counting them (a traceback each would roll the log away)."""

    def __init__(self, every_s: float = 60.0) -> None:
        self.every_s = every_s
        self._last: float | None = None
        self._count = 0

    def note(self, remote: str | None) -> None:
        self._count += 1
        now = time.monotonic()
        if self._last is not None and now - self._last < self.every_s:
            return
        log.info(
            "%d request(s) broken off by the client before the body ended (latest from %s)",
            self._count,
            remote,
        )
        self._last, self._count = now, 0


class _Protocol(web.RequestHandler):
    """aiohttp's per-connection protocol, with its error page in the envelope."""

    def __init__(self, server: _Server, **kwargs: Any) -> None:
        super().__init__(server, **kwargs)
        self._broken_off = server.broken_off

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if isinstance(exc, ConnectionResetError):
            self._broken_off.note(request.remote)
        elif status >= 500:
            self.log_exception("error handling a request from %s", request.remote, exc_info=exc)
        else:
            # The client's fault, and cheap for anyone to repeat: one line, no traceback.
            log.info(
                "refused a malformed request from %s: %s",
                request.remote,
                type(exc).__name__ if exc else status,
            )
        if request.writer.output_size > 0:
            raise ConnectionError("the response had started; it cannot become an error")
        code, text = _describe(status, exc)
        response = web.json_response(error_body(code, text), status=status)
        response.force_close()
        return response


class _Server(web.Server):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.broken_off = _BrokenOffNotes()

    def __call__(self) -> web.RequestHandler:
        return _Protocol(self, loop=self._loop, **self._kwargs)


class ApiRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer parser errors with the JSON envelope."""

    async def _make_server(self) -> web.Server:
        stock = await super()._make_server()
        return _Server(
            stock.request_handler,
            request_factory=stock.request_factory,
            handler_cancellation=stock.handler_cancellation,
            loop=asyncio.get_running_loop(),
            **stock._kwargs,
        )
