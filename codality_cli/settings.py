"""Where the CLI looks: data dir, remote server, project, token, colour — no network, no I/O.

Built once per invocation from the global options and ``CODALITY_*`` variables, then passed down;
nothing deeper reads ``os.environ``. The small ``config.json`` in the config dir remembers what
``codality project use`` chose, per server.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_FILE = "config.json"
DEFAULT_PORT = 7420  # where the local server listens unless the port is taken


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """``CODALITY_DATA_DIR`` or the platform's user data dir (the server's default too)."""
    if environ.get("CODALITY_DATA_DIR"):
        return Path(environ["CODALITY_DATA_DIR"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("codality"))


def default_config_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("codality"))


def write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only (0600), replacing the file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


@dataclass(frozen=True)
class CliSettings:
    """One invocation's view of its environment."""

    data_dir: Path
    remote_url: str | None
    project: str | None
    env_token: str | None
    no_color: bool
    config_dir: Path

    @classmethod
    def load(
        cls,
        *,
        data_dir: Path | None = None,
        server: str | None = None,
        project: str | None = None,
        no_color: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> CliSettings:
        env = os.environ if environ is None else environ
        remote = server or env.get("CODALITY_URL") or None
        return cls(
            data_dir=(data_dir or default_data_dir(env)).expanduser().resolve(),
            remote_url=remote.rstrip("/") if remote else None,
            project=project or env.get("CODALITY_PROJECT") or None,
            env_token=env.get("CODALITY_TOKEN") or None,
            no_color=no_color or "NO_COLOR" in env,
            config_dir=default_config_dir(),
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
        path = self.config_dir / CONFIG_FILE
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def chosen_project(self) -> str | None:
        """The slug ``codality project use`` remembered for this server, if any."""
        chosen = self._config().get("projects", {}).get(self.target_key)
        return str(chosen) if chosen else None

    def choose_project(self, slug: str) -> None:
        config = self._config()
        config.setdefault("projects", {})[self.target_key] = slug
        write_private(self.config_dir / CONFIG_FILE, json.dumps(config, indent=2))
