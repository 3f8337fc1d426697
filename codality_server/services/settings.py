"""Settings and the server's environment values (product.md §9).

Settings live in the database (validated by ``domain/settings.py``); environment values live in the
``SecretStore`` (keyring or a 0600 file) and are read afresh on every use, so a changed API key
applies to the next agent session without a restart.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from codality_server.db import settings as db_settings
from codality_server.domain import settings as rules
from codality_server.domain.errors import InvalidInput, Unavailable
from codality_server.secrets_store import SecretStore

from .base import Service, now_iso

if TYPE_CHECKING:
    from . import Services

log = logging.getLogger("codality.settings")


class SettingsService(Service):
    """Typed settings with defaults, the secret env store, and the restart request."""

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.secrets = SecretStore(self.config.env_file)
        # The store is a read-modify-write of one file; two concurrent changes must not interleave.
        self._env_lock = asyncio.Lock()

    # --- settings ----------------------------------------------------------------------------

    async def get_all(self) -> dict[str, Any]:
        """Every setting: the stored value where an admin set one, else the default."""
        return rules.effective(await db_settings.stored_settings(self.db.reader))

    async def get(self, key: str) -> Any:
        if key not in rules.SETTING_KEYS:
            raise InvalidInput(f"{key}: unknown setting", field=key)
        return (await self.get_all())[key]

    @staticmethod
    def defaults() -> dict[str, Any]:
        return rules.defaults()

    async def update(self, changes: Any) -> dict[str, Any]:
        """Apply a partial settings object; returns every setting after the change."""
        async with self.db.transaction() as conn:
            current = rules.effective(await db_settings.stored_settings(conn))
            changed = rules.apply_changes(current, changes)
            await db_settings.save_settings(conn, changed, now_iso())
        return {**current, **changed}

    # --- environment values -------------------------------------------------------------------

    async def env_values(self) -> dict[str, str]:
        """Real (unmasked) env values, for the server's own use only; never returned by the API."""
        return await asyncio.to_thread(self.secrets.values)

    async def env_list(self) -> list[dict[str, Any]]:
        """What the API shows: known and stored names, secret values masked."""
        return rules.env_listing(await self.env_values())

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
        if not self.services.request_restart():
            raise Unavailable(
                "this server runs embedded in another program, with no process runner to restart"
                " it; restart that program instead"
            )
