"""A circuit breaker around one model provider.

After ``failure_threshold`` consecutive failures the breaker opens: for
``cooldown_s`` on its clock (the run's injected ``Clock``, so tests drive it with a
``FakeClock``) every call fails fast with ``CircuitOpenError`` without touching the
provider. The first call after the cool-down is a single half-open probe (other calls
still fail fast meanwhile): success closes the breaker, failure opens it for another
cool-down. Every state change is a ``BreakerStateChanged`` event handed to the
``on_change`` listeners (``PrometheusMetrics.breaker_changed`` is one) and, when
the call runs inside a node's ``call_model``, a ``model_breaker_changed`` event in
that run's trace. See
``docs/observability.md``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from typing import Literal

import msgspec

from ..environment import Clock, SystemClock
from ..events import ModelBreakerChanged
from ._call_context import current_emit
from ._chat import ChatRequest, ChatResponse, Final, StreamChunk
from ._client import ModelClient
from ._errors import ModelError

__all__ = [
    "BreakerState",
    "BreakerStateChanged",
    "CircuitBreaker",
    "CircuitOpenError",
]

BreakerState = Literal["closed", "open", "half_open"]


class BreakerStateChanged(msgspec.Struct, frozen=True, kw_only=True):
    """One breaker transition, as its listeners receive it."""

    provider: str
    state: BreakerState
    previous: BreakerState
    at: float
    """The breaker clock's ``now()`` when it changed."""
    consecutive_failures: int


class CircuitOpenError(ModelError):
    """The provider's breaker is open (or probing): the call was not sent.

    Fix: wait ``retry_after_s`` seconds, or put the breaker in a
    ``FallbackClient`` so calls fall through to the next provider.
    """

    code = "model-circuit-open"

    def __init__(self, provider: str, *, retry_after_s: float, failures: int) -> None:
        self.provider = provider
        self.retry_after_s = retry_after_s
        self.failures = failures
        super().__init__(
            f"Model provider `{provider}` is unavailable: its circuit breaker opened "
            f"after {failures} consecutive failures and retries in "
            f"{retry_after_s:g}s\n\n"
            "Fix: FallbackClient([CircuitBreaker(primary, ...), CircuitBreaker("
            "backup, ...)]) falls through to the next provider"
        )


def _counts_every_exception(error: Exception) -> bool:
    return True


class CircuitBreaker:
    """A ``ModelClient`` that stops calling ``client`` after repeated failures."""

    def __init__(
        self,
        client: ModelClient,
        *,
        provider: str,
        failure_threshold: int = 5,
        cooldown_s: float = 30.0,
        clock: Clock | None = None,
        on_change: Iterable[Callable[[BreakerStateChanged], None]] = (),
        is_failure: Callable[[Exception], bool] = _counts_every_exception,
    ) -> None:
        if failure_threshold < 1 or cooldown_s < 0:
            raise ValueError(
                f"CircuitBreaker needs failure_threshold >= 1 and cooldown_s >= 0, "
                f"got {failure_threshold} and {cooldown_s}"
            )
        self.client = client
        self.provider = provider
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.listeners = list(on_change)
        self.is_failure = is_failure
        self.state: BreakerState = "closed"
        self.failures = 0
        self._opened_at = 0.0

    def _change(self, state: BreakerState) -> None:
        event = BreakerStateChanged(
            provider=self.provider,
            state=state,
            previous=self.state,
            at=self.clock.now(),
            consecutive_failures=self.failures,
        )
        self.state = state
        for listener in self.listeners:
            listener(event)
        emit = current_emit.get()
        if emit is not None:  # inside a node's model call: into the run's trace
            emit(
                ModelBreakerChanged(
                    provider=event.provider,
                    state=event.state,
                    previous=event.previous,
                    consecutive_failures=event.consecutive_failures,
                )
            )

    def _admit(self) -> None:
        """Let the call through, or raise ``CircuitOpenError``."""
        if self.state == "closed":
            return
        remaining = self._opened_at + self.cooldown_s - self.clock.now()
        if self.state == "open" and remaining <= 0:
            self._change("half_open")  # this call is the probe
            return
        raise CircuitOpenError(
            self.provider, retry_after_s=max(remaining, 0.0), failures=self.failures
        )

    def _succeeded(self) -> None:
        self.failures = 0
        if self.state != "closed":
            self._change("closed")

    def _failed(self, error: Exception) -> None:
        if not self.is_failure(error):
            if self.state == "half_open":
                self._succeeded()  # the provider answered: it is reachable
            return
        self.failures += 1
        if self.state == "half_open" or self.failures >= self.failure_threshold:
            self._opened_at = self.clock.now()
            self._change("open")

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self._admit()
        try:
            response = await self.client.complete(request)
        except Exception as exc:
            self._failed(exc)
            raise
        self._succeeded()
        return response

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamChunk]:
        self._admit()
        try:
            async for chunk in self.client.stream(request):
                if isinstance(chunk, Final):
                    self._succeeded()
                yield chunk
        except Exception as exc:
            self._failed(exc)
            raise
