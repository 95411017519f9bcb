"""Reading a request body: bounded, JSON only, typed by a msgspec struct.

A body over the limit, a content type other than JSON, malformed JSON (or JSON
nested deeper than ``MAX_DEPTH``) and a field of the wrong type each get their own
typed error (413, 415, 400, 422) before anything is changed. A body that does not
arrive within the server's ``body_timeout_s`` is a 408 (``docs/http-api.md``).
"""

from __future__ import annotations

import asyncio
from typing import Any, Final, TypeVar

import msgspec
from starlette.requests import Request

from ..errors import (
    BodyTimeoutError,
    BodyTooLargeError,
    MalformedJsonError,
    RequestError,
    UnsupportedMediaTypeError,
)

__all__ = ["MAX_DEPTH", "query_flag", "read_body"]

T = TypeVar("T")

MAX_DEPTH: Final = 100
"""How deeply a body's JSON may nest. Deeper values would overflow the stack of
whatever walks them next (encoding a checkpoint, recording metadata); no real
input nests near this."""


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


_NESTS = (msgspec.Struct, dict, list, tuple)


def _too_deep(value: Any, limit: int) -> bool:
    """Whether ``value`` (a decoded body) nests deeper than ``limit``; iterative,
    so checking cannot overflow the stack either."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, msgspec.Struct):
            children: Any = msgspec.structs.astuple(item)
        elif isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        stack.extend((c, depth + 1) for c in children if isinstance(c, _NESTS))
    return False


def _too_deep_error() -> MalformedJsonError:
    return MalformedJsonError(
        f"the body nests deeper than {MAX_DEPTH} levels", fix="send flatter JSON"
    )


async def _timed_raw(request: Request, limit: int) -> bytes:
    timeout: float = request.app.state.body_timeout_s
    try:
        async with asyncio.timeout(timeout):
            return await _raw(request, limit)
    except TimeoutError:
        raise BodyTimeoutError(
            f"the body did not arrive within {timeout:g} s",
            fix="send the whole body at once, or start the server with a larger "
            "body timeout",
        ) from None


async def read_body(request: Request, into: type[T]) -> T:
    """The body decoded into ``into``; an empty body is ``{}``."""
    limit: int = request.app.state.max_body
    raw = await _timed_raw(request, limit)
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
        body = msgspec.json.decode(raw, type=into)
    except msgspec.ValidationError as exc:
        raise RequestError(
            f"the request does not fit: {exc}", field=_field(exc)
        ) from None
    except msgspec.DecodeError as exc:
        raise MalformedJsonError(
            f"the body is not valid JSON: {exc}", fix="send a JSON object"
        ) from None
    except RecursionError:  # msgspec stops at the interpreter's own limit
        raise _too_deep_error() from None
    if _too_deep(body, MAX_DEPTH):
        raise _too_deep_error()
    return body


def query_flag(request: Request, name: str, default: bool = False) -> bool:
    value = request.query_params.get(name)
    if value is None:
        return default
    return value.lower() in ("1", "true", "yes")
