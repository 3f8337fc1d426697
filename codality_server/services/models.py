"""The model, as services use it: a configured ``ModelClient``, and one-shot calls.

``client()`` is how any feature gets the one model client (key and base URL resolved by the
settings service, prices from the settings, the retry backoff from the server settings). The
clients share one SDK client per key and base URL: making one builds an HTTP client and a TLS
context (tens of milliseconds), and sharing keeps its connections warm between calls.
``complete()`` is for short calls outside a session, such as naming a plan or checking that it is
ready (structured answers come through a forced tool: ``answer_input``): the model's failure
becomes a 503 (try again) or 502 (refused) with its reason, and a missing key a 400 naming
``ANTHROPIC_API_KEY``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from codality_server.agent.model import (
    ModelClient,
    ModelFailure,
    ModelReply,
    ModelRequest,
    sdk_client,
)
from codality_server.domain.errors import Unavailable, UpstreamFailed
from codality_server.domain.planning import AnswerTool
from codality_server.domain.settings import ModelAccess

from .base import Core, Service

if TYPE_CHECKING:
    from .settings import SettingsService

if TYPE_CHECKING:
    import anthropic

Tier = Literal["model", "fast_model"]


class ModelService(Service):
    """Model clients for sessions and one-shot calls."""

    def __init__(self, core: Core, *, settings: SettingsService) -> None:
        super().__init__(core)
        self.settings = settings
        self._sdks: dict[ModelAccess, anthropic.AsyncAnthropic] = {}

    async def client(self, access: ModelAccess | None = None) -> ModelClient:
        """A client for one session or call (``access`` as resolved now unless given); close it
        (``async with``) when done."""
        access = access or await self.settings.model_access()
        settings = await self.settings.current()
        sdk = self._sdks.get(access)
        if sdk is None:
            sdk = self._sdks[access] = sdk_client(access)
        return ModelClient(
            access,
            settings.prices,
            backoff_s=self.config.retry_backoff_s,
            sdk=sdk,
            windows=settings.context_windows,
            fast_model=settings.fast_model,
        )

    async def stop(self) -> None:
        """Close the shared SDK clients (the server is stopping)."""
        sdks, self._sdks = list(self._sdks.values()), {}
        for sdk in sdks:
            await sdk.close()

    async def complete(
        self,
        prompt: str,
        *,
        system: str = "",
        tier: Tier = "fast_model",
        max_tokens: int | None = None,
        answer: AnswerTool | None = None,
    ) -> ModelReply:
        """One question, one answer, with ``fast_model`` unless ``tier`` says ``model``; with
        ``answer``, the model is made to answer by calling that tool (see ``answer_input``)."""
        settings = await self.settings.current()
        request = ModelRequest(
            model=getattr(settings, tier),
            max_tokens=max_tokens or settings.max_tokens,
            system=system,
            tools=(answer.spec(),) if answer else (),
            tool_choice=answer.choice() if answer else None,
            temperature=settings.temperature,
        )
        async with await self.client() as client:
            try:
                return await client.complete(request, prompt)
            except ModelFailure as exc:
                raise (Unavailable if exc.transient else UpstreamFailed)(str(exc)) from exc


def answer_input(reply: ModelReply, answer: AnswerTool) -> Any:
    """The input of the reply's call to ``answer``, or None when the model answered in text (an
    endpoint that ignores ``tool_choice``): ``domain.planning`` reads the text then."""
    return next((use.input for use in reply.tool_uses if use.name == answer.name), None)
