"""The ``emit`` of the node whose model call is running, for wrapped clients.

``call_model`` sets :data:`current_emit` for the duration of one call when it was
given the node's ``emit``; a ``CircuitBreaker`` inside the client (directly or in a
``FallbackClient``) reads it to put its state changes into the run's own trace as
``model_breaker_changed`` events (``docs/observability.md``). Each asyncio task has
its own copy, so concurrent tasks never see each other's ``emit``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from ..events import StreamEvent

__all__ = ["current_emit"]

current_emit: ContextVar[Callable[[StreamEvent], None] | None] = ContextVar(
    "hive_current_model_emit", default=None
)
"""Set by ``call_model`` while a model call with a node ``emit`` runs."""
