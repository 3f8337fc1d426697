"""Where the CLI keeps session tokens: ``CODALITY_TOKEN``, else the OS keyring, else a 0600 file.

The keyring only counts when a real backend works — not keyring's ``fail`` backend and not
keyrings.alt's plaintext ones, which would silently downgrade "secure storage" to a base64 file
(stack-notes §4). The fallback file is refused when group or others can read it. One entry per
server (its URL, or ``local:<data dir>`` for the embedded one).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from .errors import CliError, ExitCode
from .settings import write_private

KEYRING_SERVICE = "codality"
FILE_NAME = "credentials.json"


def real_keyring_available() -> bool:
    """True when the active keyring backend keeps secrets better than a plain file.

    The server's ``secrets_store`` makes the same check: kept twice because the CLI never
    imports the server (import-linter), and twenty lines do not justify a third package.
    """
    if os.environ.get("CODALITY_NO_KEYRING"):
        return False
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


class CredentialStore:
    """Session tokens per server, in the best store this machine offers."""

    def __init__(self, config_dir: Path, env_token: str | None = None) -> None:
        self.file = config_dir / FILE_NAME
        self.env_token = env_token
        self._keyring: bool | None = None

    @property
    def uses_keyring(self) -> bool:
        if self._keyring is None:
            self._keyring = real_keyring_available()
        return self._keyring

    def describe(self) -> str:
        """Which store holds sessions, for ``codality auth status`` and ``login``."""
        if self.env_token:
            return "the CODALITY_TOKEN environment variable"
        if self.uses_keyring:
            import keyring

            return f"the system keyring ({type(keyring.get_keyring()).__name__})"
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
        if self.uses_keyring:
            try:
                import keyring

                return keyring.get_password(KEYRING_SERVICE, target)
            except Exception:
                return None
        return self._read_file().get(target)

    def set(self, target: str, token: str) -> None:
        if self.uses_keyring:
            try:
                import keyring

                keyring.set_password(KEYRING_SERVICE, target, token)
                return
            except Exception:
                self._keyring = False
        tokens = self._read_file()
        tokens[target] = token
        write_private(self.file, json.dumps(tokens, indent=2))

    def delete(self, target: str) -> None:
        if self.uses_keyring:
            try:
                import keyring

                keyring.delete_password(KEYRING_SERVICE, target)
            except Exception:
                return
            return
        tokens = self._read_file()
        if tokens.pop(target, None) is not None:
            write_private(self.file, json.dumps(tokens, indent=2))
