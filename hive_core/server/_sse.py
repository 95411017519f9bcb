"""Server-sent events: one ``event:``/``data:`` block per stream part."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
from starlette.responses import StreamingResponse

from ..errors import HiveError

__all__ = ["sse_block", "sse_response"]

_encoder = msgspec.json.Encoder(enc_hook=repr)


def sse_block(event: str, data: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + _encoder.encode(data) + b"\n\n"


def sse_response(
    parts: AsyncIterator[tuple[str, Any]], headers: dict[str, str] | None = None
) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        try:
            async for event, data in parts:
                yield sse_block(event, data)
        except HiveError as exc:  # the headers are sent: end with an error part
            yield sse_block("error", {"error": exc.code, "message": str(exc)})

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )
