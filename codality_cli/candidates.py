"""The words shell completion offers that only the server knows (``codality __complete KIND``).

The completion scripts (``docs.py``) ask on TAB for project slugs, ticket numbers, setting
names and environment names, with the global options already typed. It must be quick and
silent: it never starts the local server, never signs in, waits at most about a second, and
prints nothing at all when anything goes wrong, so a TAB never shows an error. Typer-free:
``fast_path`` runs it without the CLI framework.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .api import ApiClient
    from .context import CliContext

TIMEOUT_S = 1.0

Candidates = list[tuple[str, str]]  # (word, description)


async def _projects(cli: CliContext, api: ApiClient) -> Candidates:
    return [(str(p["slug"]), str(p.get("name") or "")) for p in await api.projects.list()]


async def _tickets(cli: CliContext, api: ApiClient) -> Candidates:
    slug = await cli.project(api)
    return [(str(t["number"]), str(t.get("title") or "")) for t in await api.tickets.list(slug)]


async def _settings(cli: CliContext, api: ApiClient) -> Candidates:
    return [(key, "") for key in await api.settings.defaults()]


async def _env(cli: CliContext, api: ApiClient) -> Candidates:
    return [(str(row["name"]), "") for row in await api.settings.env()]


KINDS: dict[str, Callable[[CliContext, ApiClient], Awaitable[Candidates]]] = {
    "projects": _projects,
    "tickets": _tickets,
    "settings": _settings,
    "env": _env,
}


def candidates(cli: CliContext, kind: str) -> Candidates:
    """The words for ``kind`` from a server that is already up and signed in to, else none."""
    from .api import ApiClient
    from .api.transport import BlockingTransport, run_blocking

    fetch = KINDS.get(kind)
    if fetch is None:
        return []
    settings = cli.settings
    if settings.remote_url:
        url: str | None = settings.remote_url
    else:
        from .local_server import recorded_url

        url = recorded_url(settings.data_dir)
    token = cli.credentials.get(settings.target_key)
    if url is None or not token:
        return []
    api = ApiClient(url, token, ca_cert=settings.ca_cert, blocking=True)
    transport = api.transport
    if isinstance(transport, BlockingTransport):
        transport.connect_timeout = transport.timeout = TIMEOUT_S

    async def ask() -> Candidates:
        try:
            return await fetch(cli, api)
        finally:
            await api.aclose()

    return run_blocking(ask())


def print_candidates(cli: CliContext, kind: str) -> None:
    """One ``word<TAB>description`` a line — none at all on any failure."""
    try:
        found = candidates(cli, kind)
    except Exception:
        return  # completion stays silent: no server, no session, an old server, a slow network
    cli.streams.write("".join(f"{word}\t{about}\n" for word, about in found))
