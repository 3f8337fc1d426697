"""Settings and the server's environment values."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from codality_server.secrets_store import SecretStore

from .base import Service

if TYPE_CHECKING:
    from . import Services


class SettingsService(Service):
    """Typed settings with defaults, and the secret env store."""

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.secrets = SecretStore(self.config.env_file)

    async def env_values(self) -> dict[str, str]:
        """Real (unmasked) env values, for the server's own use only; never returned by the API."""
        stored = await asyncio.to_thread(self.secrets.values)
        return {**stored, **self.config.extra_env}
