"""First-time setup, OTP login and logout."""

from __future__ import annotations

from aiohttp import web

from codality_server.domain.users import User
from codality_server.http.keys import SERVICES, SESSION_TOKEN, SETTINGS, USER

from ..middlewares import SESSION_COOKIE
from ..responses import json_ok
from ..route import Route
from ..schema import Body, Email
from ..validation import parse_body
from ..views import ref


class SetupVerify(Body):
    code: str
    email: Email
    name: str | None = None


class OtpRequest(Body):
    email: Email


class OtpVerify(Body):
    email: Email
    code: str


def _signed_in(request: web.Request, user: User, token: str, status: int = 200) -> web.Response:
    """Answer with the user and the session, as a cookie and in the body (for the CLI)."""
    auth = request.app[SERVICES].auth
    response = json_ok({"user": user.view(), "token": token}, status=status)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=auth.session_max_age(),
        httponly=True,
        samesite="Lax",
        secure=auth.cookie_secure(request.app[SETTINGS].app_url),
        path="/",
    )
    return response


async def setup_status(request: web.Request) -> web.Response:
    return json_ok({"setup_required": await request.app[SERVICES].auth.setup_required()})


async def setup_verify(request: web.Request) -> web.Response:
    body = await parse_body(request, SetupVerify)
    user, token = await request.app[SERVICES].auth.verify_setup(body.code, body.email, body.name)
    return _signed_in(request, user, token, status=201)


async def request_otp(request: web.Request) -> web.Response:
    body = await parse_body(request, OtpRequest)
    message = await request.app[SERVICES].auth.request_otp(body.email, request.remote or "?")
    return json_ok({"ok": True, "message": message})


async def verify_otp(request: web.Request) -> web.Response:
    body = await parse_body(request, OtpVerify)
    user, token = await request.app[SERVICES].auth.verify_otp(body.email, body.code)
    return _signed_in(request, user, token)


async def logout(request: web.Request) -> web.Response:
    await request.app[SERVICES].auth.logout(request[SESSION_TOKEN])
    response = json_ok({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    return json_ok(request[USER].view())


ROUTES = [
    Route(
        "GET",
        "/api/setup/status",
        setup_status,
        "Whether first-time setup is needed",
        "public",
        returns=ref("SetupStatus"),
    ),
    Route(
        "POST",
        "/api/setup/verify",
        setup_verify,
        "Create the first admin",
        "public",
        SetupVerify,
        status=201,
        returns=ref("SignedIn"),
    ),
    Route(
        "POST",
        "/api/auth/request-otp",
        request_otp,
        "E-mail a sign-in code",
        "public",
        OtpRequest,
        returns=ref("Ok"),
    ),
    Route(
        "POST",
        "/api/auth/verify-otp",
        verify_otp,
        "Exchange a code for a session",
        "public",
        OtpVerify,
        returns=ref("SignedIn"),
    ),
    Route("POST", "/api/auth/logout", logout, "End the current session", returns=ref("Ok")),
    Route("GET", "/api/auth/me", me, "The signed-in user", returns=ref("User")),
]
