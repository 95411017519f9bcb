"""Reading a request body: bounded, JSON only, typed by a msgspec struct.

A body over the limit, a content type other than JSON, malformed JSON and a field
of the wrong type each get their own typed error (413, 415, 400, 422) before
anything is changed.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec
from starlette.requests import Request

from ..errors import (
    BodyTooLargeError,
    MalformedJsonError,
    RequestError,
    UnsupportedMediaTypeError,
)

__all__ = ["read_body"]

T = TypeVar("T")


async def _raw(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(
            f"the body has {declared} bytes; the limit is {limit}",
            fix="send a smaller body, or start the server with a larger --max-body",
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(
                f"the body has more than {limit} bytes",
                fix="send a smaller body, or start the server with a larger --max-body",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _field(exc: msgspec.ValidationError) -> str | None:
    text = str(exc)
    marker = " - at `"
    if marker in text:
        return text.rsplit(marker, 1)[1].rstrip("`")
    return None


async def read_body(request: Request, into: type[T]) -> T:
    """The body decoded into ``into``; an empty body is ``{}``."""
    limit: int = request.app.state.max_body
    raw = await _raw(request, limit)
    if not raw.strip():
        raw = b"{}"
    else:
        kind = request.headers.get("content-type", "")
        media = kind.partition(";")[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            raise UnsupportedMediaTypeError(
                f"the body's content type is `{kind or 'missing'}`",
                fix="send JSON with Content-Type: application/json",
            )
    try:
        return msgspec.json.decode(raw, type=into)
    except msgspec.ValidationError as exc:
        raise RequestError(
            f"the request does not fit: {exc}", field=_field(exc)
        ) from None
    except msgspec.DecodeError as exc:
        raise MalformedJsonError(
            f"the body is not valid JSON: {exc}", fix="send a JSON object"
        ) from None


def query_flag(request: Request, name: str, default: bool = False) -> bool:
    value = request.query_params.get(name)
    if value is None:
        return default
    return value.lower() in ("1", "true", "yes")
