"""``CliContext``: what every command needs, and ``run`` — the one sync → async bridge.

``run(lambda api: …)`` does, in one go: find the server (the remote URL, or the data dir's
embedded server, started on demand), sign in (a stored session, else the zero-touch local login,
else "run `codality login`"), await the call, close the client, and turn API failures into
``CliError`` with the documented exit code.

One-shot commands run on the blocking transport without an event loop, and the common path is
a single request: the local server's address is taken from ``server.json`` without a health
probe (its lock and pid say it lives; a refused connection falls back to finding or starting
one), and the project holding the cwd comes from the remembered project paths. Streams
(``stream=True``) run under asyncio with httpx.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .credentials import CredentialStore
from .errors import CliError, ExitCode
from .output import EMPTY_HINTS, Output
from .settings import CliSettings
from .streams import Streams

if TYPE_CHECKING:
    import typer

    from .api import ApiClient
    from .api.models import SignedIn

T = TypeVar("T")
OTP_WAIT_S = 3.0


def git_config(key: str) -> str | None:
    import subprocess

    try:
        result = subprocess.run(
            ["git", "config", "--get", key], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


def local_identity() -> tuple[str, str]:
    """(e-mail, name) for the local account: git's identity, else ``$USER@localhost``."""
    import getpass

    user = getpass.getuser()
    return git_config("user.email") or f"{user}@localhost", git_config("user.name") or user


def _outbox_name(email: str) -> str:
    """How the server names an outbox message for ``email`` (services/mail.py)."""
    local, _, domain = email.strip().rpartition("@")
    return re.sub(r"[^A-Za-z0-9@._-]", "_", f"{local}@{domain.lower()}")


def _read_code(message: Path) -> str | None:
    found = re.search(r"code is (\d{6})", message.read_text("utf-8", errors="replace"))
    return found.group(1) if found else None


#: Where the root callback leaves the builder of the whole command tree, in click's ``meta``
#: (shared by every nested context), for commands that describe the whole tree.
APP_BUILDER = "codality.build_app"


def full_app(ctx: typer.Context) -> typer.Typer:
    """Every command, built on demand (a run builds only the command being run)."""
    build: Callable[[], typer.Typer] = ctx.meta[APP_BUILDER]
    return build()


class CliContext:
    """Settings, streams and credentials of one invocation (Typer keeps it in ``ctx.obj``)."""

    def __init__(self, settings: CliSettings, streams: Streams) -> None:
        self.settings = settings
        self.streams = streams
        self.credentials = CredentialStore(settings.config_dir, settings.env_token)
        self.command = ""  # "noun verb" of the command being run, once it asks for its context

    @classmethod
    def of(cls, ctx: typer.Context) -> CliContext:
        root = ctx.find_root()
        if not isinstance(root.obj, CliContext):
            raise CliError("internal: the command ran without the root callback")
        root.obj.command = " ".join(ctx.command_path.split()[1:])
        return root.obj

    def output(self, as_json: bool = False, fields: str | None = None) -> Output:
        return Output(self.streams, as_json, fields, EMPTY_HINTS.get(self.command))

    def confirm(self, question: str, yes: bool, doing: str) -> None:
        """Ask before a destructive action; ``--yes`` skips it, and without a terminal it is
        required (exit 2), so a script never acts without having said so."""
        if yes:
            return
        if not self.streams.interactive:
            raise CliError(f"pass --yes to {doing} without a terminal", ExitCode.USAGE)
        import typer

        typer.confirm(question, abort=True, err=True)

    # -- finding the server ------------------------------------------------------------------

    def server_url(self) -> str:
        """The remote URL, or the local server's (started, with a spinner, if it is not up)."""
        if self.settings.remote_url:
            return self.settings.remote_url
        from . import local_server

        running = local_server.find_running(self.settings.data_dir)
        if running is not None:
            return running.url
        with self.streams.spinner("starting the local server…"):
            return local_server.start(self.settings.data_dir).url

    def _server(self) -> tuple[str, bool]:
        """The server's URL, and whether it was checked (False: trusted from ``server.json``)."""
        if self.settings.remote_url:
            self._warn_if_clear(self.settings.remote_url)
            return self.settings.remote_url, True
        from . import local_server

        recorded = local_server.recorded_url(self.settings.data_dir)
        if recorded is not None:
            return recorded, False
        return self.server_url(), True

    def locator(self) -> Callable[[], str | None] | None:
        """For the local server: where it listens now, started again if it is gone (asked by
        streams and the TUI after a lost connection); None for a remote server."""
        if self.settings.remote_url:
            return None
        from . import local_server

        return partial(local_server.locate, self.settings.data_dir)

    def _warn_if_clear(self, url: str) -> None:
        """Plain http beyond this machine carries sign-in codes and the session token in clear."""
        from urllib.parse import urlsplit

        from .api.transport import is_loopback

        parts = urlsplit(url)
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            self.streams.message(
                f"warning: {url} is plain http: sign-in codes and your session travel"
                " unencrypted; use an https:// address"
            )

    # -- signing in ---------------------------------------------------------------------------

    async def local_login(self, api: ApiClient, email: str | None = None) -> SignedIn:
        """Sign in to our own data dir's server by reading its setup code or outbox ourselves."""
        import time

        data_dir = self.settings.data_dir
        default_email, name = local_identity()
        address = email or default_email
        health = await api.auth.health()
        if health.get("setup_required"):
            try:
                code = (data_dir / "setup-code").read_text("utf-8").strip()
            except OSError as exc:
                raise CliError(f"cannot read the setup code in {data_dir}: {exc}") from exc
            return await api.auth.setup_verify(code, address, name)
        outbox = data_dir / "outbox"
        suffix = f"-{_outbox_name(address)}.eml".lower()
        before = set(outbox.iterdir()) if outbox.is_dir() else set()
        await api.auth.request_otp(address)
        deadline = time.monotonic() + OTP_WAIT_S
        while True:
            fresh = sorted(
                p
                for p in (set(outbox.iterdir()) if outbox.is_dir() else set()) - before
                if p.name.lower().endswith(suffix)
            )
            otp = _read_code(fresh[-1]) if fresh else None
            if otp:
                return await api.auth.verify_otp(address, otp)
            if time.monotonic() > deadline:
                raise CliError(
                    f"{address} has no account on the local server (or mail goes over SMTP);"
                    " sign in with `codality login --email ADDRESS`",
                    ExitCode.AUTH,
                )
            await api.transport.pause(0.05)

    async def sign_in(self, api: ApiClient) -> None:
        """Give ``api`` a session: the stored one, else a fresh local login (remote: an error)."""
        token = self.credentials.get(self.settings.target_key)
        if token:
            api.token = token
            return
        if not self.settings.is_local:
            await api.auth.health()  # a server that is down is that, not a missing sign-in
            raise CliError(
                f"not signed in to {self.settings.remote_url}; run `codality login`", ExitCode.AUTH
            )
        result = await self.local_login(api)
        api.token = str(result["token"])
        self.credentials.set(self.settings.target_key, api.token)

    # -- the bridge ---------------------------------------------------------------------------

    def run(
        self,
        call: Callable[[ApiClient], Awaitable[T]],
        signed_in: bool = True,
        stream: bool = False,
    ) -> T:
        """Run one API interaction to completion; failures become ``CliError``.

        ``stream``: the call follows the event stream, so it runs under asyncio with httpx;
        otherwise on the blocking transport, without an event loop.
        """
        from .api import ApiError, AuthRequired, ServerUnavailable
        from .api.transport import run_blocking

        try:
            if stream:
                import asyncio

                return asyncio.run(self._run(call, signed_in, stream))
            return run_blocking(self._run(call, signed_in, stream))
        except AuthRequired as exc:
            hint = "" if self.settings.is_local else "; run `codality login`"
            raise CliError(f"{exc.message}{hint}", ExitCode.AUTH) from exc
        except ApiError as exc:
            from .wording import cli_exit_code, cli_message

            field = exc.details.get("field")
            code = cli_exit_code(exc.status, exc.code, exc.message, str(field) if field else None)
            raise CliError(cli_message(exc.message), code) from exc
        except ServerUnavailable as exc:
            from .api.errors import NotCodality

            hint = ""
            if isinstance(exc, NotCodality):
                # The local server is ours by its lock and pid: one older than this CLI.
                hint = (
                    "; restart it with `codality server restart`"
                    if self.settings.is_local
                    else "; check --server or CODALITY_URL"
                )
            raise CliError(f"{exc}{hint}", ExitCode.UNREACHABLE) from exc

    def run_in_project(
        self, call: Callable[[ApiClient, str], Awaitable[T]], stream: bool = False
    ) -> T:
        """``run`` for project-scoped calls: the slug is resolved first (see ``project``).

        A slug found through the remembered project paths that the server no longer knows
        (404) is looked up afresh, and the call made again when that finds another project.
        """
        from .api import ApiError

        async def scoped(api: ApiClient) -> T:
            slug, remembered = await self._resolve_project(api)
            try:
                return await call(api, slug)
            except ApiError as exc:
                if exc.status != 404 or not remembered:
                    raise
                self.settings.forget_projects()
                fresh, _ = await self._resolve_project(api)
                if fresh == slug:
                    raise
                return await call(api, fresh)

        return self.run(scoped, stream=stream)

    async def _run(
        self, call: Callable[[ApiClient], Awaitable[T]], signed_in: bool, stream: bool
    ) -> T:
        from .api import ServerUnavailable

        url, checked = self._server()
        try:
            return await self._session(url, call, signed_in, stream)
        except ServerUnavailable as exc:
            if checked or not exc.nothing_sent:
                raise
        # server.json named a server that refused the connection: find or start one, once.
        return await self._session(self.server_url(), call, signed_in, stream)

    async def _session(
        self, url: str, call: Callable[[ApiClient], Awaitable[T]], signed_in: bool, stream: bool
    ) -> T:
        from .api import ApiClient, AuthRequired

        async with ApiClient(
            url,
            ca_cert=self.settings.ca_cert,
            blocking=not stream,
            locate=self.locator() if stream else None,
        ) as api:
            if not signed_in:
                return await call(api)
            await self.sign_in(api)
            try:
                return await call(api)
            except AuthRequired:
                # A stored local session that expired or was ended: sign in again, once.
                if not self.settings.is_local or self.settings.env_token:
                    raise
                self.credentials.delete(self.settings.target_key)
                await self.sign_in(api)
                return await call(api)

    # -- the current project ------------------------------------------------------------------

    async def project(self, api: ApiClient) -> str:
        """``-p``/``CODALITY_PROJECT``, else the project holding the cwd, else ``project use``."""
        return (await self._resolve_project(api))[0]

    async def _resolve_project(self, api: ApiClient) -> tuple[str, bool]:
        """The slug, and whether it came from the remembered project paths (no request)."""
        if self.settings.project:
            return self.settings.project, False
        here = Path.cwd().resolve()
        known = self.settings.known_projects()
        if known:
            slug = holding_project(known, here)
            if slug:
                return slug, True
        projects = await api.projects.list()
        self.settings.remember_projects(projects)
        slug = holding_project([(str(p["slug"]), str(p.get("path") or "")) for p in projects], here)
        if slug:
            return slug, False
        chosen = self.settings.chosen_project()
        if chosen:
            return chosen, False
        names = ", ".join(str(p["slug"]) for p in projects) or "none yet"
        raise CliError(
            "which project? pass -p/--project, set CODALITY_PROJECT, run inside a project's"
            f" repository or choose one with `codality project use` (projects: {names})",
            ExitCode.USAGE,
        )


def holding_project(projects: list[tuple[str, str]], here: Path) -> str | None:
    """The slug of the innermost project whose path holds ``here``."""
    holding = [
        (len(path), slug)
        for slug, path in projects
        if path and here.is_relative_to(Path(path).resolve())
    ]
    return max(holding)[1] if holding else None
