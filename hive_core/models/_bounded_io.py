"""Bounded reading for the HTTP adapter: size limits, one call's deadline and retry
budget, ``Retry-After`` parsing and an incremental server-sent-events parser.

A misbehaving server must not be able to make a call hold unbounded memory or run
forever, so every byte is read through :class:`BodyReader` (which counts them and
keeps each wait within the call's deadline) and SSE lines are split by
:class:`SSEParser` (which refuses a line or an event over its limit before buffering
it). The limits and their defaults are described in ``docs/agents.md``.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import attrs

from ..environment import Clock
from ._errors import (
    ModelDeadlineExceededError,
    ModelError,
    ModelResponseTooLargeError,
    ModelRetryBudgetExceededError,
)

if TYPE_CHECKING:
    import httpx

__all__ = [
    "BodyReader",
    "CallBudget",
    "Limits",
    "SSEParser",
    "read_error_body",
    "retry_after_seconds",
]

_T = TypeVar("_T")
_EOL = re.compile(rb"\r\n?|\n")
_MIB = 1 << 20


@attrs.frozen(kw_only=True)
class Limits:
    """The most one call reads from the server, in bytes.

    Reading stops as soon as a limit would be passed, so a call never holds much more
    than the limit; each breach raises ``ModelResponseTooLargeError`` naming it.
    """

    max_response_bytes: int = 32 * _MIB
    """The whole reply body, streamed or not (after content decoding)."""
    max_sse_line_bytes: int = 1 * _MIB
    """One line of a server-sent-event stream."""
    max_sse_event_bytes: int = 4 * _MIB
    """The ``data`` of one server-sent event (all its data lines together)."""
    max_error_body_bytes: int = 64 * 1024
    """What is read of an HTTP error body (and kept in ``ModelHTTPError.body``);
    the rest is not read, the connection is closed."""


def retry_after_seconds(value: str, *, now: float | None = None) -> float | None:
    """A ``Retry-After`` header as seconds to wait (RFC 9110): delay-seconds, or an
    HTTP-date measured from ``now`` (POSIX seconds; the server's ``Date`` header when
    it sent one, else this machine's time). A date in the past is ``0``; anything
    unreadable is ``None``."""
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and math.isfinite(seconds) else None
    when = _http_date(text)
    if when is None:
        return None
    if now is None:
        import time

        now = time.time()
    return max(0.0, when - now)


def _http_date(text: str) -> float | None:
    import email.utils

    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; obsolete forms may lack a zone
        import datetime

        when = when.replace(tzinfo=datetime.UTC)
    return when.timestamp()


def server_time(headers: httpx.Headers) -> float | None:
    """The server's ``Date`` header as POSIX seconds, so an HTTP-date
    ``Retry-After`` is measured on the server's clock rather than ours."""
    date = headers.get("date")
    return _http_date(date) if date else None


class CallBudget:
    """One call's clock-keeping on the client's clock: the overall deadline (every
    wait of the call is bounded by what is left of it) and the total time slept
    between retries.

    Args:
        clock: The client's clock (``FakeClock`` in tests).
        deadline: ``Timeouts.deadline``; ``None`` means no overall limit.
        budget: ``Retries.budget``; ``None`` means no limit on retry waits.
        url: For the errors.
    """

    def __init__(
        self, clock: Clock, *, deadline: float | None, budget: float | None, url: str
    ) -> None:
        self.clock = clock
        self.deadline = deadline
        self.budget = budget
        self.url = url
        self.start = clock.now()
        self.slept = 0.0

    def remaining(self) -> float | None:
        if self.deadline is None:
            return None
        return self.deadline - (self.clock.now() - self.start)

    def exceeded(self, phase: str) -> ModelDeadlineExceededError:
        return ModelDeadlineExceededError(
            phase, value=self.deadline or 0.0, url=self.url
        )

    async def within(self, start: Callable[[], Awaitable[_T]], phase: str) -> _T:
        """Await ``start()``, cut off when the deadline passes (a wait that began
        before the deadline cannot outlast it)."""
        left = self.remaining()
        if left is None:
            return await start()
        if left <= 0:
            raise self.exceeded(phase)
        import asyncio

        scope = asyncio.timeout(left)
        try:
            async with scope:
                return await start()
        except TimeoutError:
            if scope.expired():
                raise self.exceeded(phase) from None
            raise

    async def wait_to_retry(
        self, wanted: float, *, failure: ModelError, last: str, attempts: int
    ) -> None:
        """Sleep ``wanted`` seconds before the next attempt, or raise if that does not
        fit in the retry budget or before the deadline (sleeping only to give up
        helps nobody, and waiting less than the server asked likely fails again)."""
        if self.budget is not None and self.slept + wanted > self.budget:
            raise ModelRetryBudgetExceededError(
                value=self.budget,
                spent=self.slept,
                wanted=wanted,
                attempts=attempts,
                last=last,
                url=self.url,
            ) from failure
        left = self.remaining()
        if left is not None and wanted >= left:
            raise self.exceeded(
                f"waiting {wanted:g}s to retry after {last}"
            ) from failure
        await self.clock.sleep(wanted)
        self.slept += wanted


class BodyReader:
    """A response body chunk by chunk, each wait within the call's deadline, the
    total counted against ``limit``.

    Args:
        resp: A streaming ``httpx`` response.
        call: The call's deadline.
        phase: What a timeout or deadline error says the call was doing.
        limit: ``Limits.max_response_bytes``.
        failed: Turns an ``httpx`` transport error into the typed error to raise.
    """

    def __init__(
        self,
        resp: httpx.Response,
        call: CallBudget,
        *,
        phase: str,
        limit: int,
        failed: Callable[[Exception, str], ModelError],
    ) -> None:
        self._chunks: AsyncIterator[bytes] = resp.aiter_bytes()
        self._call = call
        self.phase = phase
        self.limit = limit
        self._failed = failed
        self.total = 0
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise self._too_large()

    def _too_large(self) -> ModelResponseTooLargeError:
        return ModelResponseTooLargeError(
            "a response body",
            limit="Limits.max_response_bytes",
            value=self.limit,
            url=self._call.url,
        )

    async def next(self) -> bytes | None:
        """The next chunk, or ``None`` at the end of the body."""
        import httpx

        try:
            chunk = await self._call.within(lambda: anext(self._chunks), self.phase)
        except StopAsyncIteration:
            return None
        except httpx.TransportError as exc:
            raise self._failed(exc, self.phase) from exc
        self.total += len(chunk)
        if self.total > self.limit:
            raise self._too_large()
        return chunk

    async def read_all(self) -> bytes:
        parts = bytearray()
        while (chunk := await self.next()) is not None:
            parts += chunk
        return bytes(parts)


async def read_error_body(
    resp: httpx.Response, call: CallBudget, limit: int
) -> tuple[str, int | None]:
    """At most ``limit`` bytes of an error body, then the connection is closed.

    Returns the text and ``limit`` if the body was longer (else ``None``). Failing to
    read is not an error: the status is what matters, the body is a courtesy.
    """
    buf = bytearray()
    cut: int | None = None
    chunks = resp.aiter_bytes()
    try:
        while True:
            chunk = await call.within(lambda: anext(chunks), "reading an error body")
            room = limit - len(buf)
            if len(chunk) > room:
                buf += chunk[:room]
                cut = limit
                break
            buf += chunk
    except Exception:  # StopAsyncIteration is the end; anything else cuts it short
        pass
    finally:
        await resp.aclose()
    return buf.decode("utf-8", errors="replace"), cut


class SSEParser:
    """Server-sent events from bytes, incrementally: ``feed`` returns the ``data``
    of each event a chunk completes (multi-line data joined by ``\\n``).

    Lines end at CR, LF or CRLF (a CRLF split across chunks counts once). A line
    or an event over its limit raises ``ModelResponseTooLargeError`` before it is
    buffered, so memory stays within the limits whatever the server sends.
    """

    def __init__(self, limits: Limits, url: str) -> None:
        self._max_line = limits.max_sse_line_bytes
        self._max_event = limits.max_sse_event_bytes
        self._url = url
        self._line = bytearray()
        self._skip_lf = False
        self._data: list[bytes] = []
        self._event_size = 0

    def _too_large(self, what: str, limit: str, value: int) -> Exception:
        return ModelResponseTooLargeError(what, limit=limit, value=value, url=self._url)

    def feed(self, chunk: bytes) -> list[str]:
        events: list[str] = []
        pos, n = 0, len(chunk)
        if self._skip_lf:
            self._skip_lf = False
            if n and chunk[0] == 0x0A:
                pos = 1
        while pos < n:
            match = _EOL.search(chunk, pos)
            end = n if match is None else match.start()
            if len(self._line) + (end - pos) > self._max_line:
                raise self._too_large(
                    "an SSE line", "Limits.max_sse_line_bytes", self._max_line
                )
            if match is None:
                self._line += chunk[pos:]
                break
            if self._line:
                self._line += chunk[pos:end]
                line = bytes(self._line)
                self._line.clear()
            else:
                line = chunk[pos:end]
            self._take(line, events)
            pos = match.end()
            self._skip_lf = pos == n and match.group() == b"\r"
        return events

    def close(self) -> list[str]:
        """The end of the stream: a last unterminated line and event count."""
        events: list[str] = []
        if self._line:
            self._take(bytes(self._line), events)
            self._line.clear()
        if self._data:
            events.append(self._flush())
        return events

    def _take(self, line: bytes, events: list[str]) -> None:
        if not line:
            if self._data:
                events.append(self._flush())
            return
        if line.startswith(b":"):
            return
        field, _, value = line.partition(b":")
        if field != b"data":
            return
        if value.startswith(b" "):
            value = value[1:]
        self._event_size += len(value) + 1
        if self._event_size > self._max_event:
            raise self._too_large(
                "an SSE event", "Limits.max_sse_event_bytes", self._max_event
            )
        self._data.append(value)

    def _flush(self) -> str:
        data = b"\n".join(self._data).decode("utf-8", errors="replace")
        self._data = []
        self._event_size = 0
        return data
