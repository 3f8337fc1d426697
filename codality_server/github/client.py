"""GitHub's REST API through gidgethub over httpx: App JWTs, installation tokens, and calls.

gidgethub (and PyJWT behind it) is imported inside these functions only, so a server that never
configures GitHub never loads it (tests/test_import_hygiene.py checks it). JWT signing stays
inside the library; a webhook's signature is checked as its body streams (``domain/github.py``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx2
    from gidgethub.abc import GitHubAPI

REQUESTER = "codality"
#: An installation token is used until this long before GitHub says it expires.
TOKEN_MARGIN_S = 300.0
TIMEOUT_S = 30.0


class GitHubError(Exception):
    """GitHub answered with an error (or could not be reached: ``status`` 0)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _message(exc: Exception) -> str:
    texts = [a for a in exc.args if isinstance(a, str) and a]
    return texts[-1] if texts else type(exc).__name__


@dataclass
class _Token:
    value: str
    expires_at: float


@dataclass
class TokenCache:
    """Installation tokens per (app, installation), reused until shortly before they expire."""

    tokens: dict[tuple[str, str], _Token] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def valid(self, key: tuple[str, str]) -> str | None:
        token = self.tokens.get(key)
        if token is not None and token.expires_at - time.time() > TOKEN_MARGIN_S:
            return token.value
        return None

    def clear(self) -> None:
        self.tokens.clear()


def _expiry(text: str | None) -> float:
    if not text:
        return time.time() + 3600
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class GitHubClient:
    """One App's view of the API at ``api_url``; one pooled HTTP client for all calls."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self._http: httpx2.AsyncClient | None = None
        self.tokens = TokenCache()

    def _api(self) -> GitHubAPI:
        # gidgethub's httpx backend picks httpx2 when it is installed, else httpx: use its pick.
        from gidgethub import httpx as backend

        if self._http is None:
            self._http = backend.httpx.AsyncClient(timeout=TIMEOUT_S)  # type: ignore[attr-defined]
        return backend.GitHubAPI(self._http, REQUESTER, base_url=self.api_url)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        jwt: str | None = None,
        data: Any = None,
        accept: str | None = None,
    ) -> Any:
        import gidgethub

        api = self._api()
        auth: dict[str, Any] = {"oauth_token": token} if token else {}
        if jwt:
            auth = {"jwt": jwt}
        if accept:
            auth["accept"] = accept
        try:
            if method == "GET":
                return await api.getitem(path, **auth)
            if method == "POST":
                return await api.post(path, data=b"" if data is None else data, **auth)
            if method == "PATCH":
                return await api.patch(path, data=data or {}, **auth)
            if method == "PUT":
                return await api.put(path, data=b"" if data is None else data, **auth)
            if method == "DELETE":
                return await api.delete(path, **auth)
        except gidgethub.HTTPException as exc:
            raise GitHubError(int(exc.status_code), _message(exc)) from None
        except gidgethub.GitHubException as exc:
            raise GitHubError(0, _message(exc)) from None
        except Exception as exc:  # the transport: refused, reset, timed out, bad TLS …
            if type(exc).__module__.split(".")[0] not in ("httpx2", "httpx", "httpcore2"):
                raise
            raise GitHubError(0, f"cannot reach {self.api_url}: {type(exc).__name__}") from None
        raise ValueError(f"unsupported method {method}")

    async def _all(self, path: str, key: str | None, token: str) -> list[Any]:
        import gidgethub

        api = self._api()
        try:
            return [item async for item in api.getiter(path, oauth_token=token, iterable_key=key)]
        except gidgethub.HTTPException as exc:
            raise GitHubError(int(exc.status_code), _message(exc)) from None
        except Exception as exc:
            if type(exc).__module__.split(".")[0] not in ("httpx2", "httpx", "httpcore2"):
                raise
            raise GitHubError(0, f"cannot reach {self.api_url}: {type(exc).__name__}") from None

    # --- the App ---------------------------------------------------------------------------

    async def convert_manifest(self, code: str) -> dict[str, Any]:
        """The manifest flow's last step: the new App's id, slug, secrets and private key."""
        result: dict[str, Any] = await self._call("POST", f"/app-manifests/{code}/conversions")
        return result

    @staticmethod
    def app_jwt(app_id: str, private_key: str) -> str:
        from gidgethub.apps import get_jwt

        try:
            return get_jwt(app_id=app_id, private_key=private_key)
        except (ValueError, TypeError) as exc:
            raise GitHubError(0, f"the App's private key cannot sign: {exc}") from None

    async def app_info(self, app_id: str, private_key: str) -> dict[str, Any]:
        info: dict[str, Any] = await self._call(
            "GET", "/app", jwt=self.app_jwt(app_id, private_key)
        )
        return info

    async def installation(self, app_id: str, private_key: str, installation_id: str) -> Any:
        jwt = self.app_jwt(app_id, private_key)
        return await self._call("GET", f"/app/installations/{installation_id}", jwt=jwt)

    async def installation_token(self, app_id: str, private_key: str, installation_id: str) -> str:
        """A cached installation token, or a new one from the App's JWT."""
        key = (app_id, installation_id)
        cached = self.tokens.valid(key)
        if cached:
            return cached
        async with self.tokens.lock:
            cached = self.tokens.valid(key)
            if cached:
                return cached
            jwt = self.app_jwt(app_id, private_key)
            answer = await self._call(
                "POST", f"/app/installations/{installation_id}/access_tokens", jwt=jwt
            )
            token = _Token(str(answer["token"]), _expiry(answer.get("expires_at")))
            self.tokens.tokens[key] = token
            return token.value

    # --- with an installation token ----------------------------------------------------------

    async def get(self, path: str, token: str, accept: str | None = None) -> Any:
        return await self._call("GET", path, token=token, accept=accept)

    async def post(self, path: str, token: str, data: Mapping[str, Any]) -> Any:
        return await self._call("POST", path, token=token, data=dict(data))

    async def patch(self, path: str, token: str, data: Mapping[str, Any]) -> Any:
        return await self._call("PATCH", path, token=token, data=dict(data))

    async def put(self, path: str, token: str, data: Mapping[str, Any]) -> Any:
        return await self._call("PUT", path, token=token, data=dict(data))

    async def all(self, path: str, token: str, key: str | None = None) -> list[Any]:
        """Every page of a list endpoint (``key`` names the list inside an object answer)."""
        return await self._all(path, key, token)
