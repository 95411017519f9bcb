"""The API key check, as pure ASGI middleware (it never buffers a stream).

With a key configured every request but ``GET /ok`` must carry it, as
``Authorization: Bearer <key>`` or ``x-api-key: <key>`` (what ``langgraph-sdk``
sends); comparison is constant-time.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import UnauthorizedError
from ._problems import problem_response

__all__ = ["ApiKeyMiddleware"]

_OPEN = frozenset({"/ok"})


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.key = api_key.encode()

    def _given(self, scope: Scope) -> bytes | None:
        for name, value in scope.get("headers", ()):
            if name == b"x-api-key":
                return bytes(value)
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                return bytes(value[7:]).strip()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in _OPEN:
            await self.app(scope, receive, send)
            return
        given = self._given(scope)
        if given is None or not hmac.compare_digest(given, self.key):
            reason = "no API key" if given is None else "a wrong API key"
            exc = UnauthorizedError(
                f"the request carries {reason}",
                fix="send Authorization: Bearer <key> (or x-api-key: <key>)",
            )
            await problem_response(exc, str(scope.get("path", "")))(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)
