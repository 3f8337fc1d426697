"""Where the CLI keeps session tokens: ``CODALITY_TOKEN``, else the OS keyring, else a 0600 file.

The keyring only counts when a real backend works — not keyring's ``fail`` backend and not
keyrings.alt's plaintext ones, which would silently downgrade "secure storage" to a base64 file
(stack-notes §4). The fallback file is refused when group or others can read it. One entry per
server (its URL, or ``local:<data dir>`` for the embedded one).

Finding out which keyring backend works means importing and probing every one keyring knows
(~120 ms on a machine that has none), so the answer is decided once and remembered in the config
dir's ``config.json`` (``credential_store``: ``{"kind": "file"}`` or the backend's class). Delete
that entry to have it probed again, e.g. after installing a keyring.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from .errors import CliError, ExitCode
from .settings import read_config, write_config, write_private

KEYRING_SERVICE = "codality"
FILE_NAME = "credentials.json"
STORE_KEY = "credential_store"


def is_real_backend(backend: Any) -> bool:
    """True when a keyring backend keeps secrets better than a plain file.

    The server's ``secrets_store`` makes the same check: kept twice because the CLI never
    imports the server (import-linter), and twenty lines do not justify a third package.
    """
    from keyring.backends import fail

    module = type(backend).__module__
    if isinstance(backend, fail.Keyring) or module.startswith("keyrings.alt"):
        return False
    if "chainer" in module:
        return bool(getattr(backend, "backends", []))
    return float(getattr(backend, "priority", 0)) >= 1


def probe_keyring() -> Any | None:
    """The backend keyring would pick, when it is a real one (this is the slow probe)."""
    try:
        import keyring

        backend = keyring.get_keyring()
        return backend if is_real_backend(backend) else None
    except Exception:
        return None


def load_backend(where: str) -> Any | None:
    """The remembered ``module:Class`` backend, built directly (no probing); None if it fails."""
    module_name, _, class_name = where.partition(":")
    try:
        import importlib

        backend = getattr(importlib.import_module(module_name), class_name)()
        return backend if is_real_backend(backend) else None
    except Exception:
        return None


class CredentialStore:
    """Session tokens per server, in the best store this machine offers."""

    def __init__(self, config_dir: Path, env_token: str | None = None) -> None:
        self.config_dir = config_dir
        self.file = config_dir / FILE_NAME
        self.env_token = env_token
        self._backend: Any | None = None
        self._decided = False

    @property
    def backend(self) -> Any | None:
        """The keyring backend in use, or None for the file; decided once per machine."""
        if self._decided:
            return self._backend
        self._decided = True
        if os.environ.get("CODALITY_NO_KEYRING"):
            return None
        remembered = read_config(self.config_dir).get(STORE_KEY)
        if isinstance(remembered, dict) and remembered.get("kind") == "file":
            return None
        if isinstance(remembered, dict) and remembered.get("kind") == "keyring":
            self._backend = load_backend(str(remembered.get("backend", "")))
            if self._backend is not None:
                return self._backend
        self._backend = probe_keyring()
        self._remember()
        return self._backend

    @property
    def uses_keyring(self) -> bool:
        return self.backend is not None

    def _remember(self) -> None:
        if self._backend is None:
            choice: dict[str, str] = {"kind": "file"}
        else:
            kind = type(self._backend)
            choice = {"kind": "keyring", "backend": f"{kind.__module__}:{kind.__qualname__}"}
        config = read_config(self.config_dir)
        if config.get(STORE_KEY) != choice:
            config[STORE_KEY] = choice
            write_config(self.config_dir, config)

    def describe(self) -> str:
        """Which store holds sessions, for ``codality auth status`` and ``login``."""
        if self.env_token:
            return "the CODALITY_TOKEN environment variable"
        if self.backend is not None:
            return f"the system keyring ({type(self.backend).__name__})"
        return f"{self.file} (plaintext, 0600)"

    def _read_file(self) -> dict[str, str]:
        try:
            mode = self.file.stat().st_mode
        except FileNotFoundError:
            return {}
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise CliError(
                f"{self.file} can be read by other users; refusing to use it"
                f" (run `chmod 600 {self.file}` or delete it and sign in again)",
                ExitCode.AUTH,
            )
        try:
            data = json.loads(self.file.read_text("utf-8") or "{}")
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def get(self, target: str) -> str | None:
        if self.env_token:
            return self.env_token
        if self.backend is not None:
            try:
                found = self.backend.get_password(KEYRING_SERVICE, target)
            except Exception:
                return None
            return str(found) if found else None
        return self._read_file().get(target)

    def set(self, target: str, token: str) -> None:
        if self.backend is not None:
            try:
                self.backend.set_password(KEYRING_SERVICE, target, token)
                return
            except Exception:
                # The keyring stopped working: the file from now on, and remembered as such.
                self._backend = None
                self._remember()
        tokens = self._read_file()
        tokens[target] = token
        write_private(self.file, json.dumps(tokens, indent=2))

    def delete(self, target: str) -> None:
        if self.backend is not None:
            try:
                self.backend.delete_password(KEYRING_SERVICE, target)
            except Exception:
                return
            return
        tokens = self._read_file()
        if tokens.pop(target, None) is not None:
            write_private(self.file, json.dumps(tokens, indent=2))
