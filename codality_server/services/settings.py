"""Settings and the server's environment values (product.md §9).

Settings live in the database (validated by ``domain/settings.py``) and are read as the typed
``Settings`` object (``current()``). Environment values live in the ``SecretStore`` (keyring or a
0600 file) and are read afresh on every use, so a changed API key applies to the next model call
without a restart; a known name the store lacks is taken from the process environment.
``model_access()`` is the one resolver of the model's key and base URL.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from codality_server.db import settings as db_settings
from codality_server.domain import settings as rules
from codality_server.domain.errors import Unavailable
from codality_server.secrets_store import SecretStore

from .base import Core, Restarter, Service, now_iso

log = logging.getLogger("codality.settings")


class SettingsService(Service):
    """Typed settings with defaults, the secret env store, and the restart request."""

    def __init__(self, core: Core, *, restarter: Restarter) -> None:
        super().__init__(core)
        self.restarter = restarter
        self.secrets = SecretStore(self.config.env_file, None if self.config.keyring else False)
        # The store is a read-modify-write of one file; two concurrent changes must not interleave.
        self._env_lock = asyncio.Lock()
        # The last values read and the env file's (mtime, size) then: a webhook or an agent start
        # reads them without a thread hop while nothing changed.
        self._env_cache: tuple[tuple[int, int] | None, dict[str, str]] | None = None

    # --- settings ----------------------------------------------------------------------------

    async def current(self) -> rules.Settings:
        """Every setting, typed: the stored value where an admin set one, else the default."""
        return rules.effective(await db_settings.stored_settings(self.db.reader))

    async def get_all(self) -> dict[str, Any]:
        """Every setting as the API shows it."""
        return (await self.current()).model_dump(mode="json")

    @staticmethod
    def defaults() -> dict[str, Any]:
        return rules.defaults()

    async def update(self, changes: Any) -> dict[str, Any]:
        """Apply a partial settings object; returns every setting after the change."""
        async with self.db.transaction() as conn:
            current = rules.effective(await db_settings.stored_settings(conn)).model_dump(
                mode="json"
            )
            changed = rules.apply_changes(current, changes)
            await db_settings.save_settings(conn, changed, now_iso())
        return {**current, **changed}

    # --- environment values -------------------------------------------------------------------

    async def _effective_env(self) -> dict[str, tuple[str, rules.EnvSource]]:
        """The store's values over the process environment's. The store is read again only when
        its file changed (every change, the keyring's too, rewrites it): a webhook or an agent
        start reads it without a thread hop while nothing changed."""
        stamp = self._env_stamp()
        cached = self._env_cache
        if cached is not None and stamp is not None and cached[0] == stamp:
            stored = cached[1]
        else:
            stored = await asyncio.to_thread(self.secrets.values)
            self._env_cache = (stamp, stored)
        return rules.effective_env(dict(stored), os.environ)

    async def env_values(self) -> dict[str, str]:
        """Real (unmasked) env values, for the server's own use only; never returned by the API."""
        return {name: value for name, (value, _) in (await self._effective_env()).items()}

    async def model_access(self) -> rules.ModelAccess:
        """The model's key and base URL; a missing key is a 400 naming ``ANTHROPIC_API_KEY``."""
        return rules.ModelAccess.from_env(await self.env_values())

    def _env_stamp(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self.secrets.file)
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    async def env_list(self) -> list[dict[str, Any]]:
        """What the API shows: known and stored names, secret values masked, and each value's
        source (the store or the process environment)."""
        return rules.env_listing(await self._effective_env())

    async def update_env(self, changes: Any) -> list[dict[str, Any]]:
        """Set (or, with null, unset) env values; returns the masked listing."""
        checked = rules.env_changes(changes)
        async with self._env_lock:
            try:
                await asyncio.to_thread(self.secrets.update, checked)
            except Exception as exc:  # a locked keyring or a full disk, not bad input
                log.exception("storing env values in the %s store failed", self.secrets.backend)
                raise Unavailable(
                    f"the {self.secrets.backend} store refused the change; see the server log"
                ) from exc
        return await self.env_list()

    # --- restart ------------------------------------------------------------------------------

    def restart(self) -> None:
        """Ask the process runner to restart; an embedded app has none to ask."""
        if not self.restarter.request():
            raise Unavailable(
                "this server runs embedded in another program, with no process runner to restart"
                " it; restart that program instead"
            )
