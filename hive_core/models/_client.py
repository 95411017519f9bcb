"""What a model client is, how a router picks one, and how a node finds one.

A node never imports a provider: it reads ``environment.model_router`` or
``environment.model`` (or a client handed to it), so tests swap in a scripted client
or a cassette without patching anything.
"""

from __future__ import annotations

import attrs

from ..environment import Environment
from ._chat import ChatRequest
from ._errors import ModelClientMissingError
from ._protocols import ModelClient, ModelRouter, RoutingHints

__all__ = [
    "HintRouter",
    "ModelClient",
    "ModelRouter",
    "RoutingHints",
    "resolve_client",
]


@attrs.frozen(kw_only=True)
class HintRouter:
    """A small rule-based router.

    ``local`` serves requests that require privacy or arrive while offline;
    ``background`` serves the background latency tier; ``default`` everything else.
    Without a ``local`` client, a private or offline request raises
    ``ModelClientMissingError`` rather than silently leaving the machine.
    """

    default: ModelClient
    local: ModelClient | None = None
    background: ModelClient | None = None

    def route(self, request: ChatRequest, hints: RoutingHints) -> ModelClient:
        if hints.privacy_required or hints.network_state == "offline":
            if self.local is None:
                why = "privacy" if hints.privacy_required else "offline network"
                raise ModelClientMissingError(
                    where=f"HintRouter ({why} needs a local client)"
                )
            return self.local
        if hints.latency_tier == "background" and self.background is not None:
            return self.background
        return self.default


_DEFAULT_HINTS = RoutingHints()


def resolve_client(
    environment: Environment,
    request: ChatRequest,
    *,
    client: ModelClient | None = None,
    hints: RoutingHints | None = None,
    where: str = "A model call",
) -> ModelClient:
    """The client for ``request``: ``client`` if given, else the environment's
    router, else ``environment.model``, else ``ModelClientMissingError``."""
    if client is not None:
        return client
    router = environment.model_router
    if router is not None:
        if not isinstance(router, ModelRouter):
            raise TypeError(
                f"environment.model_router is a {type(router).__name__}, which has no "
                "route(request, hints) method"
            )
        return router.route(request, hints or _DEFAULT_HINTS)
    model = environment.model
    if model is None:
        raise ModelClientMissingError(where=where)
    if not isinstance(model, ModelClient):
        raise TypeError(
            f"environment.model is a {type(model).__name__}, which lacks "
            "complete(request) and stream(request)"
        )
    return model
