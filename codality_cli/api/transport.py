"""The one place that speaks HTTP: base URL, Bearer token, TLS, timeouts, error decoding.

Two transports share everything above the wire. ``Transport`` is httpx's async client, for what
needs an event loop (the TUI, event streams). ``BlockingTransport`` is one kept-alive
socket speaking HTTP/1.1 (``wire``), for the one-shot commands: its coroutines never suspend, so
``run_blocking`` completes them without asyncio, and a command like ``ticket list`` loads neither
asyncio, httpx nor http.client (~75 ms of imports per invocation).

TLS: an ``https://`` server's certificate is always verified — against the system store
(``SSL_CERT_FILE``/``SSL_CERT_DIR`` included), plus ``--ca-cert``/``CODALITY_CA_CERT`` when
given. Only plain ``http://`` builds no SSL context (it costs ~20 ms), which is what the embedded
server on loopback speaks.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, TypeVar

from .errors import ApiError, AuthRequired, NotCodality, ServerUnavailable

if TYPE_CHECKING:
    import socket
    import ssl

    import httpx

Params = Mapping[str, str | int | bool | list[str] | None]
QueryPairs = list[tuple[str, str | int | float | bool | None]]
T = TypeVar("T")
#: Where the server listens now, or None when it cannot be found (see ``Transport.relocate``).
Locate = Callable[[], "str | None"]
HEADERS = {"Accept": "application/json", "User-Agent": "codality-cli"}
TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 5.0
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# Every answer of a Codality server carries it (codality_server/app.py).
SERVER_HEADER = "codality-version"


class Response(Protocol):
    """What callers read of an answer; ``httpx.Response`` and ``Reply`` both fit."""

    @property
    def status_code(self) -> int: ...
    @property
    def reason_phrase(self) -> str: ...
    @property
    def content(self) -> bytes: ...
    @property
    def text(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    def json(self) -> Any: ...


def load_httpx() -> ModuleType:
    """httpx without its own command-line client.

    ``httpx/__init__`` imports ``httpx._main``, which loads rich, click and pygments when they are
    installed (~30 ms per command, measured with ``-X importtime``); marking that one module as
    absent makes httpx fall back to its stub, and nothing here uses httpx's CLI.
    """
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    import httpx

    return httpx


def is_loopback(host: str | None) -> bool:
    """True for ``localhost`` and 127.0.0.0/8 or ``::1`` addresses."""
    if not host:
        return False
    if host.lower() in LOOPBACK_NAMES:
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def tls_context(base_url: str, ca_cert: Path | None = None) -> ssl.SSLContext | None:
    """The verifying context for an ``https://`` URL; None for ``http://`` (nothing to verify).

    The system store comes from OpenSSL's defaults, which honour ``SSL_CERT_FILE`` and
    ``SSL_CERT_DIR``; where a Python build has no usable store (python.org on macOS), certifi's
    bundle stands in when it is installed. ``ca_cert`` adds a CA (a self-signed server's own
    certificate, a company CA) on top.
    """
    from urllib.parse import urlsplit

    if urlsplit(base_url).scheme != "https":
        return None
    import ssl

    context = ssl.create_default_context()
    if not context.get_ca_certs() and not _has_ca_dir():
        try:
            import certifi

            context.load_verify_locations(cafile=certifi.where())
        except ImportError:
            pass
    if ca_cert is not None:
        context.load_verify_locations(cafile=str(ca_cert))
    return context


def _has_ca_dir() -> bool:
    """A CA directory OpenSSL reads lazily (its certificates are not counted until used)."""
    import os
    import ssl

    paths = ssl.get_default_verify_paths()
    folder = os.environ.get(paths.openssl_capath_env) or paths.capath
    return bool(folder) and os.path.isdir(folder) and any(os.scandir(folder))


def unreachable(base_url: str, exc: BaseException, nothing_sent: bool = False) -> ServerUnavailable:
    """A transport failure as one readable reason; an untrusted certificate says what to do."""
    import ssl

    cert: BaseException | None = exc
    while cert is not None and not isinstance(cert, ssl.SSLCertVerificationError):
        cert = cert.__cause__ or cert.__context__  # httpx wraps httpcore, which wraps ssl
    if isinstance(cert, ssl.SSLCertVerificationError):
        detail = cert.verify_message or str(cert)
        return ServerUnavailable(
            base_url,
            f"its TLS certificate is not trusted ({detail}); give its CA with --ca-cert FILE"
            " or CODALITY_CA_CERT",
        )
    return ServerUnavailable(base_url, str(exc) or type(exc).__name__, nothing_sent)


def checked(base_url: str, response: Response) -> Response:
    """``response`` when a Codality server sent it; anything else at the address (a web page,
    another JSON API, a proxy's error page) is ``NotCodality``, never "not found"."""
    if SERVER_HEADER in response.headers:
        return response
    kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    if not response.content:
        body = "nothing"
    elif kind == "text/html":
        body = "an HTML page"
    elif "json" in kind:
        body = "JSON of its own"
    else:
        body = kind or "an untyped body"
    status = f"{response.status_code} {response.reason_phrase}".strip()
    raise NotCodality(base_url, f"{status} with {body}")


def decode_error(response: Response) -> ApiError:
    """The envelope's code and message, or the status line when the body is something else."""
    code, message, details = f"http_{response.status_code}", response.reason_phrase, {}
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = dict(body["error"])
        code = str(error.pop("code", code))
        message = str(error.pop("message", message))
        details = error
    cls = AuthRequired if response.status_code == 401 else ApiError
    return cls(response.status_code, code, message or code, details)


def clean_params(params: Params | None) -> QueryPairs:
    """Query pairs without Nones; lists become repeated keys; booleans ``true``/``false``."""
    pairs: QueryPairs = []
    for key, value in (params or {}).items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if item is None:
                continue
            text = ("true" if item else "false") if isinstance(item, bool) else str(item)
            pairs.append((key, text))
    return pairs


class Transport:
    """An open ``httpx.AsyncClient`` plus the decoding every resource client shares.

    ``locate`` (the local server's clients) says where the server listens now; it is asked
    after a lost connection, since a server that restarted meanwhile may have moved.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        ca_cert: Path | None = None,
        locate: Locate | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.ca_cert = ca_cert
        self.locate = locate
        self.sent = 0  # requests that went out (a refused first one can be retried elsewhere)
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            httpx = load_httpx()
            context = tls_context(self.base_url, self.ca_cert)
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                headers=HEADERS,
                timeout=httpx.Timeout(TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
                # Plain http has nothing to verify; False spares httpx building a context.
                verify=context if context is not None else False,
            )
        return self._client

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def pause(self, seconds: float) -> None:
        """Wait without holding up anything else on the loop."""
        import asyncio

        await asyncio.sleep(seconds)

    async def relocate(self) -> bool:
        """Ask ``locate`` where the server is now; True when it moved (requests follow it).

        ``locate`` may start a server and wait for it, so it runs in a thread.
        """
        if self.locate is None:
            return False
        import asyncio

        url = await asyncio.to_thread(self.locate)
        if url is None or url.rstrip("/") == self.base_url:
            return False
        self.base_url = url.rstrip("/")
        await self.close()  # the next request opens a client for the new address
        return True

    async def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Params | None = None,
        timeout: float | None = None,
    ) -> Response:
        """One request; a transport failure becomes ``ServerUnavailable``, never a traceback."""
        httpx = load_httpx()
        extra: dict[str, Any] = {}
        if timeout is not None:
            extra["timeout"] = timeout
        for attempt in (1, 2):
            try:
                response = await self.client.request(
                    method,
                    path,
                    json=json,
                    params=clean_params(params),
                    headers=self.auth_headers(),
                    **extra,
                )
            except httpx.TransportError as exc:
                refused = isinstance(exc, httpx.ConnectError)
                # Nothing reached the server: safe to send again where it listens now.
                if refused and attempt == 1 and await self.relocate():
                    continue
                raise unreachable(self.base_url, exc, refused and self.sent == 0) from exc
            self.sent += 1
            return checked(self.base_url, response)
        raise AssertionError("unreachable")  # the loop returns or raises

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Params | None = None,
        timeout: float | None = None,
    ) -> Any:
        """The decoded JSON body of a 2xx answer (None for 204); ``ApiError`` otherwise.
        ``timeout``: seconds to wait for the answer, for calls that wait on the model."""
        response = await self.send(method, path, json=json, params=params, timeout=timeout)
        if response.status_code >= 400:
            raise decode_error(response)
        if response.status_code == 204 or not response.content:
            return None
        content_type = response.headers.get("content-type", "")
        return response.json() if "json" in content_type else response.text

    async def get(self, path: str, params: Params | None = None) -> Any:
        return await self.request("GET", path, params=params)

    async def post(
        self,
        path: str,
        json: Any = None,
        params: Params | None = None,
        timeout: float | None = None,
    ) -> Any:
        return await self.request(
            "POST", path, json=json if json is not None else {}, params=params, timeout=timeout
        )

    async def put(self, path: str, json: Any) -> Any:
        return await self.request("PUT", path, json=json)

    async def patch(self, path: str, json: Any) -> Any:
        return await self.request("PATCH", path, json=json)

    async def delete(self, path: str) -> Any:
        return await self.request("DELETE", path)

    async def get_bytes(self, path: str, params: Params | None = None) -> tuple[bytes, str]:
        """A raw body and its content type (file contents from ``…/blob/``)."""
        response = await self.send("GET", path, params=params)
        if response.status_code >= 400:
            raise decode_error(response)
        return response.content, response.headers.get("content-type", "")


class Reply:
    """An answer read whole, with the part of httpx's interface callers use."""

    def __init__(self, status: int, reason: str, headers: dict[str, str], content: bytes) -> None:
        self.status_code = status
        self.reason_phrase = reason
        self.headers = headers  # names in lower case
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        import json

        return json.loads(self.content)


class BlockingTransport(Transport):
    """Requests over one kept-alive socket (``wire``); its coroutines never suspend."""

    def __init__(
        self, base_url: str, token: str | None = None, ca_cert: Path | None = None
    ) -> None:
        super().__init__(base_url, token, ca_cert)
        self._sock: socket.socket | None = None
        self._reader: BinaryIO | None = None
        # Shell completion lowers both: a TAB must never hang on a server that does not answer.
        self.connect_timeout = CONNECT_TIMEOUT_S
        self.timeout = TIMEOUT_S

    @property
    def client(self) -> httpx.AsyncClient:
        raise RuntimeError("event streams need the async transport (CliContext.run(stream=True))")

    async def close(self) -> None:
        self._drop()

    def _drop(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def pause(self, seconds: float) -> None:
        import time

        time.sleep(seconds)

    def _host(self) -> tuple[str, int, str]:
        """(host, port, ``Host`` header) of the base URL."""
        from urllib.parse import urlsplit

        parts = urlsplit(self.base_url)
        default = 443 if parts.scheme == "https" else 80
        port = parts.port or default
        host = parts.hostname or "127.0.0.1"
        shown = f"[{host}]" if ":" in host else host
        return host, port, shown if port == default else f"{shown}:{port}"

    def _connect(self) -> socket.socket:
        """Open the socket: TLS when https, and an ASCII host name handed to the resolver as
        bytes, which spares loading the idna codec (~5 ms) on every command."""
        import socket

        host, port, _ = self._host()
        try:
            address: str | bytes = host.encode("ascii")
        except UnicodeEncodeError:
            address = host
        sock = socket.create_connection((address, port), self.connect_timeout)  # type: ignore[arg-type]
        context = tls_context(self.base_url, self.ca_cert)
        if context is not None:
            try:
                sock = context.wrap_socket(sock, server_hostname=host)
            except BaseException:
                sock.close()
                raise
        self._sock, self._reader = sock, sock.makefile("rb")
        return sock

    def _target(self, path: str, params: Params | None) -> str:
        from urllib.parse import urlencode, urlsplit

        prefix = urlsplit(self.base_url).path.rstrip("/")
        pairs = clean_params(params)
        return prefix + path + (("&" if "?" in path else "?") + urlencode(pairs) if pairs else "")

    async def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Params | None = None,
        timeout: float | None = None,
    ) -> Response:
        from . import wire

        headers = {**HEADERS, **self.auth_headers()}
        body: bytes | None = None
        if json is not None:
            import json as json_

            body = json_.dumps(json).encode("utf-8")
            headers["Content-Type"] = "application/json"
        data = wire.request_bytes(
            method, self._target(path, params), self._host()[2], headers, body
        )
        for attempt in (1, 2):
            reused = self._sock is not None
            try:
                sock = self._sock or self._connect()
                assert self._reader is not None
                sock.settimeout(timeout or self.timeout)
                answer = wire.exchange(sock, self._reader, data, method)
                self.sent += 1
            except (wire.PeerClosed, ConnectionResetError, BrokenPipeError) as exc:
                # A kept-alive connection the server had already closed: once more, afresh —
                # unless the request may have been acted on and must not be sent twice.
                self._drop()
                if reused and attempt == 1 and method in IDEMPOTENT:
                    continue
                raise unreachable(self.base_url, exc) from exc
            except (OSError, wire.BadAnswer) as exc:
                self._drop()
                refused = self.sent == 0 and isinstance(exc, ConnectionRefusedError)
                raise unreachable(self.base_url, exc, refused) from exc
            if not answer.keep_alive:
                self._drop()
            reply = Reply(answer.status, answer.reason, answer.headers, answer.content)
            return checked(self.base_url, reply)
        raise AssertionError("unreachable")  # the loop returns or raises


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (it only awaits ``BlockingTransport``) to its end.

    No event loop is created: one ``coro.send(None)`` runs it to its end. Awaiting anything that
    really suspends (an asyncio sleep, a stream) is a programming error, reported as such.
    """
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("a blocking API call tried to suspend; run it with stream=True")
