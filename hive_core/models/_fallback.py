"""A client that tries providers in order: the next one answers when one fails.

Usually each provider is a ``CircuitBreaker``, so a provider that keeps failing is
skipped at once (its ``CircuitOpenError``) instead of being waited on. Each attempt
is observed as a model call of its own provider (``docs/observability.md``), so
metrics count the calls that failed over as well as the one that answered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from .._observe import current_task
from ._chat import ChatRequest, ChatResponse, Final, StreamChunk
from ._client import ModelClient
from ._errors import ModelError

__all__ = ["FallbackClient", "ModelProvidersExhaustedError"]


class ModelProvidersExhaustedError(ModelError):
    """Every provider of a ``FallbackClient`` failed for one request.

    ``errors`` holds ``(provider, error type, message)`` in the order tried; the
    last provider's exception is chained as ``__cause__``.

    Fix: check each provider's error; add a provider, or raise a breaker's
    ``failure_threshold`` if a flaky provider opens too eagerly.
    """

    code = "model-providers-exhausted"

    def __init__(self, errors: Sequence[tuple[str, str, str]]) -> None:
        self.errors = tuple(errors)
        lines = "\n".join(f"  {p}: {kind}: {msg}" for p, kind, msg in self.errors)
        super().__init__(
            f"All {len(self.errors)} model providers failed:\n{lines}\n\n"
            "Fix: check each provider's error above; add a provider or give a "
            "breaker a larger failure_threshold"
        )


def _name(client: ModelClient) -> str:
    name = getattr(client, "provider", None)
    return name if isinstance(name, str) and name else type(client).__name__


class FallbackClient:
    """A ``ModelClient`` asking ``providers`` in order until one answers.

    A stream falls through only before its first chunk; once a provider has
    streamed tokens, its failure is the call's failure.
    """

    observes_itself = True
    """``call_model`` leaves observation to this client (per provider attempt)."""

    def __init__(self, providers: Sequence[ModelClient]) -> None:
        if not providers:
            raise ValueError("FallbackClient needs at least one provider")
        self.providers = tuple(providers)
        self.provider = "+".join(_name(p) for p in self.providers)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        errors: list[tuple[str, str, str]] = []
        last: Exception | None = None
        observed = current_task.get()
        for client in self.providers:
            name = _name(client)
            call = None
            if observed is not None:
                call = observed.observer.model_call_started(
                    observed.scope, name, request
                )
            try:
                response = await client.complete(request)
            except Exception as exc:
                if observed is not None:
                    observed.observer.model_call_ended(call, None, exc)
                errors.append((name, type(exc).__name__, str(exc).split("\n", 1)[0]))
                last = exc
                continue
            if observed is not None:
                observed.observer.model_call_ended(call, response, None)
            return response
        raise ModelProvidersExhaustedError(errors) from last

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamChunk]:
        errors: list[tuple[str, str, str]] = []
        last: Exception | None = None
        observed = current_task.get()
        for client in self.providers:
            name = _name(client)
            call = None
            if observed is not None:
                call = observed.observer.model_call_started(
                    observed.scope, name, request
                )
            started = False
            final: ChatResponse | None = None
            try:
                async for chunk in client.stream(request):
                    started = True
                    if isinstance(chunk, Final):
                        final = chunk.response
                    yield chunk
            except BaseException as exc:
                if observed is not None:
                    observed.observer.model_call_ended(call, None, exc)
                if started or not isinstance(exc, Exception):
                    raise
                errors.append((name, type(exc).__name__, str(exc).split("\n", 1)[0]))
                last = exc
                continue
            if observed is not None:
                observed.observer.model_call_ended(call, final, None)
            return
        raise ModelProvidersExhaustedError(errors) from last
