"""Server settings: built once at start-up from arguments and the environment, then passed down."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 7420
#: Request-body bytes held at once: two of GitHub's largest (25 MB) deliveries and more.
DEFAULT_BODY_BUDGET_BYTES = 64 * 1024 * 1024


def default_data_dir() -> Path:
    """The data dir: ``CODALITY_DATA_DIR`` or the platform's user data dir."""
    env = os.environ.get("CODALITY_DATA_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("codality"))


@dataclass(frozen=True)
class ServerSettings:
    """Everything the server needs to know about where it lives and how it behaves."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    app_url: str | None = None
    worktree_base: Path | None = None
    heartbeat_s: float = 15.0
    event_ring_size: int = 10_000
    subscriber_queue_size: int = 5_000
    # Connecting, TLS and each SMTP reply: an unreachable mail server is a prompt 503.
    smtp_timeout_s: float = 5.0
    #: Keep secret env values in the OS keyring when a real one works (else a 0600 file).
    #: ``CODALITY_NO_KEYRING=1`` turns it off; tests and headless machines do.
    keyring: bool = True
    #: First wait before retrying a transient model failure; doubles per attempt. Tests use ~0.
    retry_backoff_s: float = 1.0
    #: Request-body bytes held at once across all requests; a body past it is a 503.
    body_budget_bytes: int = DEFAULT_BODY_BUDGET_BYTES

    @classmethod
    def from_env(cls, data_dir: Path, host: str, port: int) -> ServerSettings:
        worktrees = os.environ.get("WORKTREE_BASE")
        return cls(
            data_dir=data_dir,
            host=host,
            port=port,
            app_url=os.environ.get("APP_URL") or None,
            worktree_base=Path(worktrees).expanduser() if worktrees else None,
            heartbeat_s=float(os.environ.get("CODALITY_HEARTBEAT_S", "15")),
            keyring=not os.environ.get("CODALITY_NO_KEYRING"),
        )

    @property
    def db_path(self) -> Path:
        return self.data_dir / "codality.db"

    @property
    def worktrees_dir(self) -> Path:
        return self.worktree_base or self.data_dir / "worktrees"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def setup_code_path(self) -> Path:
        return self.data_dir / "setup-code"

    @property
    def env_file(self) -> Path:
        return self.data_dir / "env"

    @property
    def server_json(self) -> Path:
        return self.data_dir / "server.json"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "server.lock"

    @property
    def last_port_path(self) -> Path:
        """The port the server listened on last, kept after it stops (``server.json`` is not)."""
        return self.data_dir / "last-port"

    def prepare_dirs(self) -> None:
        """Create the data dir layout with private permissions (folders 0700)."""
        for folder in (
            self.data_dir,
            self.worktrees_dir,
            self.keys_dir,
            self.outbox_dir,
            self.logs_dir,
        ):
            folder.mkdir(parents=True, exist_ok=True)
            if folder != self.worktrees_dir or self.worktree_base is None:
                os.chmod(folder, 0o700)
