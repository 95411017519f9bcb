"""Small helpers every route uses."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from ._backend import Backend

__all__ = ["backend_of", "json_response"]

_encoder = msgspec.json.Encoder(enc_hook=repr)


def backend_of(request: Request) -> Backend:
    found: Backend = request.app.state.backend
    return found


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        _encoder.encode(data),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )
