"""``hive serve``: the LangGraph Platform HTTP API subset over the run service.

``build_app(graphs, settings)`` builds a Starlette app that ``langgraph-sdk``'s
``get_client(url=...)`` can drive (assistants, threads, runs, streams,
interrupts); ``serve(graphs, settings)`` runs it under uvicorn. Install the
``server`` extra. See ``docs/http-api.md``.
"""

from __future__ import annotations

from .._exports import public as _public
from ..errors import (
    ApiKeyRequiredError,
    AssistantNotFoundError,
    BodyTimeoutError,
    BodyTooLargeError,
    MalformedJsonError,
    MethodNotAllowedError,
    RequestError,
    RouteNotFoundError,
    ServerError,
    ThreadBusyError,
    ThreadNotFoundError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
    UnsupportedOptionError,
)
from ._app import ServerSettings, build_app, is_loopback
from ._launch import STREAM_MODES
from ._serve import serve

__all__ = [
    "build_app",
    "serve",
    "ServerSettings",
    "STREAM_MODES",
    "is_loopback",
    "ServerError",
    "RequestError",
    "MalformedJsonError",
    "UnsupportedMediaTypeError",
    "BodyTooLargeError",
    "BodyTimeoutError",
    "UnauthorizedError",
    "RouteNotFoundError",
    "MethodNotAllowedError",
    "UnsupportedOptionError",
    "ThreadNotFoundError",
    "AssistantNotFoundError",
    "ThreadBusyError",
    "ApiKeyRequiredError",
]

_public(__name__, __all__, globals())
