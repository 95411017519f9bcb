"""The protocols of the services a node's environment holds: a chat model, a model
router, a tool provider.

They import nothing that imports ``hive_core.environment``, so ``Environment`` can
name them without a cycle (``docs/architecture.md``, the layer table). The
implementations live beside them: ``_client.py`` (routing, ``resolve_client``) and
``_tools.py`` (``ToolRegistry``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal, Protocol, runtime_checkable

import msgspec

from ._chat import (
    ChatRequest,
    ChatResponse,
    StreamChunk,
    ToolCall,
    ToolDefinition,
    ToolResult,
)

__all__ = ["ModelClient", "ModelRouter", "RoutingHints", "ToolProvider"]


@runtime_checkable
class ModelClient(Protocol):
    """A chat model.

    ``stream(request)`` yields zero or more ``Token`` chunks and then exactly one
    ``Final``, which is last; ``complete(request)`` returns the response that final
    chunk would carry.
    """

    async def complete(self, request: ChatRequest) -> ChatResponse: ...

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamChunk]: ...


class RoutingHints(msgspec.Struct, frozen=True, kw_only=True):
    """What a router may weigh when choosing a client for one request."""

    latency_tier: Literal["interactive", "background"] = "interactive"
    privacy_required: bool = False
    """The request must not leave the machine (route to a local model)."""
    token_budget: int | None = None
    network_state: Literal["offline", "online", "metered"] = "online"


@runtime_checkable
class ModelRouter(Protocol):
    """Chooses a client for a request (e.g. local when offline or private)."""

    def route(self, request: ChatRequest, hints: RoutingHints) -> ModelClient: ...


@runtime_checkable
class ToolProvider(Protocol):
    """Anything that lists tool definitions and invokes calls.

    ``ToolRegistry`` is the usual one; cassettes wrap any provider.
    """

    def definitions(self) -> tuple[ToolDefinition, ...]:
        """The tools, sorted by name."""
        ...

    async def invoke(self, call: ToolCall) -> ToolResult:
        """Run one call; raises whatever the tool raises."""
        ...
