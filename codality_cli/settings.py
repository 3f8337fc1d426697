"""Where the CLI looks: data dir, remote server, project, token, colour — no network, no I/O.

Built once per invocation from the global options and ``CODALITY_*`` variables, then passed down;
nothing deeper reads ``os.environ``. The small ``config.json`` in the config dir remembers what
``codality project use`` chose, per server.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import CliError, ExitCode

if TYPE_CHECKING:
    from .api.models import Project

CONFIG_FILE = "config.json"
PROJECTS_CACHE_FILE = "known-projects.json"  # a cache, kept apart from the user's choices
DEFAULT_PORT = 7420  # where the local server listens unless the port is taken
# How long the remembered project paths answer "which project holds the cwd" without asking
# the server again; a 404 on the project, or any change through `codality project`, forgets them.
PROJECTS_TTL_S = 300.0


def _xdg_dir(variable: str, fallback: str) -> Path | None:
    """platformdirs' rule on Linux (``$XDG_…_HOME``, else a folder of the home) without importing
    it (~4 ms per command); None elsewhere, where platformdirs itself decides."""
    if not sys.platform.startswith("linux"):
        return None
    base = os.environ.get(variable, "")
    return Path(base if base.strip() else os.path.expanduser(fallback)) / "codality"


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """``CODALITY_DATA_DIR`` or the platform's user data dir (the server's default too)."""
    if environ.get("CODALITY_DATA_DIR"):
        return Path(environ["CODALITY_DATA_DIR"]).expanduser()
    found = _xdg_dir("XDG_DATA_HOME", "~/.local/share")
    if found is not None:
        return found
    import platformdirs

    return Path(platformdirs.user_data_dir("codality"))


def default_config_dir() -> Path:
    found = _xdg_dir("XDG_CONFIG_HOME", "~/.config")
    if found is not None:
        return found
    import platformdirs

    return Path(platformdirs.user_config_dir("codality"))


def write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only (0600), replacing the file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # concurrent writers never share it
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class CliSettings(NamedTuple):
    """One invocation's view of its environment (a named tuple: dataclasses would load
    ``inspect``, ~5 ms of every command's start)."""

    data_dir: Path
    remote_url: str | None
    project: str | None
    env_token: str | None
    no_color: bool
    config_dir: Path
    ca_cert: Path | None = None

    @classmethod
    def load(
        cls,
        *,
        data_dir: Path | None = None,
        server: str | None = None,
        project: str | None = None,
        no_color: bool = False,
        ca_cert: Path | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> CliSettings:
        env = os.environ if environ is None else environ
        remote = server or env.get("CODALITY_URL") or None
        ca = ca_cert or (Path(env["CODALITY_CA_CERT"]) if env.get("CODALITY_CA_CERT") else None)
        return cls(
            data_dir=(data_dir or default_data_dir(env)).expanduser().resolve(),
            remote_url=remote.rstrip("/") if remote else None,
            project=project or env.get("CODALITY_PROJECT") or None,
            env_token=env.get("CODALITY_TOKEN") or None,
            no_color=no_color or "NO_COLOR" in env,
            config_dir=default_config_dir(),
            ca_cert=ca.expanduser() if ca else None,
        )

    @property
    def is_local(self) -> bool:
        """True when the CLI talks to the embedded server of its own data dir."""
        return self.remote_url is None

    @property
    def target_key(self) -> str:
        """Stable name of the server, for stored sessions and choices (a local port may change)."""
        return self.remote_url or f"local:{self.data_dir}"

    def _config(self) -> dict[str, Any]:
        return read_config(self.config_dir)

    def chosen_project(self) -> str | None:
        """The slug ``codality project use`` remembered for this server, if any."""
        chosen = self._config().get("projects", {}).get(self.target_key)
        return str(chosen) if chosen else None

    def choose_project(self, slug: str) -> None:
        config = self._config()
        config.setdefault("projects", {})[self.target_key] = slug
        write_config(self.config_dir, config)

    def known_projects(self) -> list[tuple[str, str]] | None:
        """(slug, path) of this server's projects as last listed, while fresh; else None.

        Finding the project that holds the cwd then costs no request: a warm ``ticket list``
        is the list request alone.
        """
        import time

        entry = read_config(self.config_dir, PROJECTS_CACHE_FILE).get(self.target_key)
        if not isinstance(entry, dict) or not isinstance(entry.get("projects"), list):
            return None
        if not 0 <= time.time() - float(entry.get("at") or 0) < PROJECTS_TTL_S:
            return None
        return [(str(slug), str(path)) for slug, path in entry["projects"]]

    def remember_projects(self, projects: Sequence[Project]) -> None:
        import time

        cache = read_config(self.config_dir, PROJECTS_CACHE_FILE)
        pairs = [[p["slug"], p["path"]] for p in projects if p["path"]]
        cache[self.target_key] = {"at": time.time(), "projects": pairs}
        write_config(self.config_dir, cache, PROJECTS_CACHE_FILE)

    def forget_projects(self) -> None:
        cache = read_config(self.config_dir, PROJECTS_CACHE_FILE)
        if cache.pop(self.target_key, None) is not None:
            write_config(self.config_dir, cache, PROJECTS_CACHE_FILE)


def read_config(config_dir: Path, name: str = CONFIG_FILE) -> dict[str, Any]:
    """A JSON object of the config dir (empty when missing or unreadable)."""
    try:
        data = json.loads((config_dir / name).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_config(config_dir: Path, config: dict[str, Any], name: str = CONFIG_FILE) -> None:
    write_private(config_dir / name, json.dumps(config, indent=2))


def check_server_url(url: str, source: str) -> None:
    """A server address is ``http(s)://host[:port][/prefix]``; anything else is a usage error
    now, rather than a confusing failure (or a sign-in prompt) later."""
    from urllib.parse import urlsplit

    example = "give one like https://codality.example.com or http://127.0.0.1:7420"
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or not port_ok
        or parts.query
        or parts.fragment
        or any(c.isspace() for c in url)
    ):
        raise CliError(f"{source}: {url!r} is not a server address; {example}", ExitCode.USAGE)
