"""Where the server keeps secret environment values.

The OS keyring when a real backend works (the ``fail`` backend and keyrings.alt's plaintext ones do
not count, see stack-notes §4), else a ``0600`` JSON file in the data dir. The names of stored
values always live in the file, so the list survives a keyring that cannot enumerate.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

KEYRING_SERVICE = "codality-server"


def real_keyring_available() -> bool:
    """True when the active keyring backend stores secrets somewhere better than a plain file.

    ``codality_cli.credentials`` makes the same check: the two packages never import each other.
    """
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
        module = type(backend).__module__
        if isinstance(backend, fail.Keyring) or module.startswith("keyrings.alt"):
            return False
        if "chainer" in module:
            return bool(getattr(backend, "backends", []))
        return float(getattr(backend, "priority", 0)) >= 1
    except Exception:
        return False


def write_private(path: Path, text: str) -> None:
    """Write ``text`` so that only the owner can ever read it (0600, atomic replace)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class SecretStore:
    """Name → value store for the server's environment (API keys, SMTP, GitHub)."""

    def __init__(self, file: Path, use_keyring: bool | None = None) -> None:
        self.file = file
        self.use_keyring = real_keyring_available() if use_keyring is None else use_keyring
        # One keyring entry set per data dir, so two data dirs never share secrets.
        self.service = f"{KEYRING_SERVICE}:{file.parent}"

    @property
    def backend(self) -> str:
        return "keyring" if self.use_keyring else "file"

    def _read_file(self) -> dict[str, str | None]:
        if not self.file.exists():
            return {}
        data = json.loads(self.file.read_text("utf-8") or "{}")
        return {str(k): (None if v is None else str(v)) for k, v in data.items()}

    def values(self) -> dict[str, str]:
        """Every stored name with its real value."""
        out: dict[str, str] = {}
        for name, value in self._read_file().items():
            if self.use_keyring:
                try:
                    import keyring

                    value = keyring.get_password(self.service, name)
                except Exception:
                    value = None
            if value is not None:
                out[name] = value
        return out

    def update(self, changes: dict[str, str | None]) -> None:
        """Set or (with ``None``) unset values."""
        stored = self._read_file()
        for name, value in changes.items():
            if value is None:
                stored.pop(name, None)
            else:
                stored[name] = None if self.use_keyring else value
            if self.use_keyring:
                import keyring

                if value is None:
                    with contextlib.suppress(Exception):
                        keyring.delete_password(self.service, name)
                else:
                    keyring.set_password(self.service, name, value)
        write_private(self.file, json.dumps(stored, indent=2, sort_keys=True))
