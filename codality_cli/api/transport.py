"""The one place that speaks HTTP: base URL, Bearer token, timeouts, error decoding.

httpx is imported inside ``Transport.open`` so that importing the CLI stays cheap, and the client
is built with ``verify=False`` because building an SSL context costs ~20 ms and the embedded
server is plain HTTP on loopback (stack-notes §6).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .errors import ApiError, AuthRequired, ServerUnavailable

if TYPE_CHECKING:
    import httpx

Params = Mapping[str, str | int | bool | list[str] | None]
QueryPairs = list[tuple[str, str | int | float | bool | None]]


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


def decode_error(response: httpx.Response) -> ApiError:
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
    """An open ``httpx.AsyncClient`` plus the decoding every resource client shares."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            httpx = load_httpx()
            headers = {"Accept": "application/json", "User-Agent": "codality-cli"}
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                headers=headers,
                timeout=httpx.Timeout(30.0, connect=5.0),
                verify=False,
            )
        return self._client

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Params | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """One request; a transport failure becomes ``ServerUnavailable``, never a traceback."""
        httpx = load_httpx()
        extra: dict[str, Any] = {}
        if timeout is not None:
            extra["timeout"] = timeout
        try:
            return await self.client.request(
                method,
                path,
                json=json,
                params=clean_params(params),
                headers=self.auth_headers(),
                **extra,
            )
        except httpx.TransportError as exc:
            raise ServerUnavailable(self.base_url, str(exc) or type(exc).__name__) from exc

    async def request(
        self, method: str, path: str, *, json: Any = None, params: Params | None = None
    ) -> Any:
        """The decoded JSON body of a 2xx answer (None for 204); ``ApiError`` otherwise."""
        response = await self.send(method, path, json=json, params=params)
        if response.status_code >= 400:
            raise decode_error(response)
        if response.status_code == 204 or not response.content:
            return None
        content_type = response.headers.get("content-type", "")
        return response.json() if "json" in content_type else response.text

    async def get(self, path: str, params: Params | None = None) -> Any:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, json: Any = None, params: Params | None = None) -> Any:
        return await self.request(
            "POST", path, json=json if json is not None else {}, params=params
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
