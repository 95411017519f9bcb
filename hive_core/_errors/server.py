"""The HTTP server's errors (exported from ``hive_core.server``); each has the
HTTP ``status`` of its problem response (``docs/http-api.md``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from .base import HiveError

__all__ = [
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


class ServerError(HiveError):
    """The HTTP server (``hive_core.server``); ``status`` is the HTTP status its
    problem response carries (``docs/http-api.md``)."""

    code = "server-error"
    status: ClassVar[int] = 500


class RequestError(ServerError, ValueError):
    """A request the server cannot accept (a field of the wrong type or shape);
    the subclasses below name the other reasons. ``field`` is the culprit."""

    code = "server-invalid-request"
    status: ClassVar[int] = 422

    def __init__(
        self, message: str, *, field: str | None = None, fix: str | None = None
    ) -> None:
        self.field = field
        self.fix = fix
        super().__init__(message if fix is None else f"{message}\n\nFix: {fix}")


class MalformedJsonError(RequestError):
    """The body is not JSON (or not UTF-8)."""

    code = "server-malformed-json"
    status: ClassVar[int] = 400


class UnsupportedMediaTypeError(RequestError):
    """A body was sent with a content type other than ``application/json``."""

    code = "server-unsupported-media-type"
    status: ClassVar[int] = 415


class BodyTooLargeError(RequestError):
    """The body is larger than the server's limit."""

    code = "server-body-too-large"
    status: ClassVar[int] = 413


class BodyTimeoutError(RequestError):
    """The body did not arrive within the server's body timeout."""

    code = "server-body-timeout"
    status: ClassVar[int] = 408


class UnauthorizedError(RequestError):
    """The server requires an API key and the request has none, or a wrong one."""

    code = "server-unauthorized"
    status: ClassVar[int] = 401


class RouteNotFoundError(RequestError):
    """No endpoint has this path (``docs/http-api.md`` lists them)."""

    code = "server-route-not-found"
    status: ClassVar[int] = 404


class MethodNotAllowedError(RequestError):
    """The path exists, but not with this method."""

    code = "server-method-not-allowed"
    status: ClassVar[int] = 405


class UnsupportedOptionError(RequestError):
    """A LangGraph option Hive does not implement (``docs/http-api.md``)."""

    code = "server-unsupported"
    status: ClassVar[int] = 422


class ThreadNotFoundError(ServerError, LookupError):
    """The server knows no thread with this id."""

    code = "server-thread-not-found"
    status: ClassVar[int] = 404

    def __init__(self, thread_id: str) -> None:
        self.thread_id = thread_id
        super().__init__(
            f"no thread `{thread_id}`\n\n"
            'Fix: create it first (POST /threads), or pass if_not_exists="create"'
        )


class AssistantNotFoundError(ServerError, LookupError):
    """No registered graph answers to this assistant id or graph id."""

    code = "server-assistant-not-found"
    status: ClassVar[int] = 404

    def __init__(self, assistant_id: str, known: Sequence[str]) -> None:
        self.assistant_id = assistant_id
        self.known = tuple(known)
        names = ", ".join(f"`{k}`" for k in self.known) or "none"
        super().__init__(
            f"no assistant `{assistant_id}` (graphs: {names})\n\n"
            "Fix: use a graph id or an assistant id from POST /assistants/search"
        )


class ThreadBusyError(ServerError):
    """A run was refused because the thread already has one in flight
    (``multitask_strategy="reject"``, or a state change while a run goes)."""

    code = "server-thread-busy"
    status: ClassVar[int] = 409

    def __init__(
        self, thread_id: str, run_ids: Sequence[str], *, why: str | None = None
    ) -> None:
        self.thread_id = thread_id
        self.run_ids = tuple(run_ids)
        self.why = why
        if why is not None:
            super().__init__(
                f"thread `{thread_id}` is busy: {why}\n\nFix: send the request again"
            )
            return
        super().__init__(
            f"thread `{thread_id}` is busy with run(s) {', '.join(self.run_ids)}\n\n"
            "Fix: wait for the run (GET .../runs/{run_id}/join), or send "
            'multitask_strategy="enqueue" or "interrupt"'
        )


class ApiKeyRequiredError(ServerError):
    """``hive serve`` was asked to listen off loopback without an API key."""

    code = "server-api-key-required"

    def __init__(self, host: str) -> None:
        self.host = host
        super().__init__(
            f"refusing to serve on `{host}` without an API key\n\n"
            "Fix: set HIVE_API_KEY (or pass --api-key), or bind 127.0.0.1"
        )
