"""The bounded event buffer between a running attempt and its listener.

Only built when someone listens: a run whose caller wants just the outcome creates
no event objects at all. Tokens and debug events are droppable (a token coalesces
into the last queued token of the same task when the buffer is full); everything
else waits for room, so a slow listener slows the run instead of losing events.
"""

from __future__ import annotations

import types
from collections import deque
from collections.abc import AsyncIterator, Generator
from typing import TYPE_CHECKING, Any, Protocol, final

from ..events import (
    CustomDebug,
    Event,
    ModelToken,
    StepStarted,
    TaskFailed,
    TaskFinished,
    TaskStarted,
)
from ._stream import StreamPart

if TYPE_CHECKING:
    import asyncio

__all__ = ["EventSink", "yield_now"]


class _Deterministic(Protocol):
    deterministic: bool


@types.coroutine
def yield_now() -> Generator[None, None, None]:
    """What ``asyncio.sleep(0)`` does, without importing asyncio: a bare yield lets
    the event loop run other tasks (and the inline driver simply resumes)."""
    yield


@final
class EventSink:
    """Single-producer, single-consumer event queue with fixed drop and coalesce rules
    (docs/concepts/determinism.md, "Stream events")."""

    __slots__ = (
        "_buf",
        "_capacity",
        "_closed",
        "_error",
        "_index",
        "_readable",
        "_writable",
        "attempt_id",
        "direct",
        "driven",
        "dropped_debug",
        "dropped_tokens",
        "run_id",
        "wanted",
    )

    def __init__(self, capacity: int) -> None:
        self._buf: deque[Event | StreamPart] = deque()
        self._capacity = capacity
        self._closed = False
        self._error: BaseException | None = None
        self._index = 0
        self._readable: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self.run_id = ""
        self.attempt_id = ""
        self.dropped_tokens = 0
        self.dropped_debug = 0
        self.driven = False
        """Read by the stream driving the run (``_driven.py``): a full buffer
        yields to it instead of waiting for a reader task."""
        self.direct = False
        """Set by an in-process stream that records no events: the ``values`` and
        ``updates`` parts are queued as parts, built without their events
        (``_stream_data.py``); the stream passes them through unprojected."""
        self.wanted: frozenset[type[Event]] | None = None
        """Only these kinds are built (``None``: all). A stream whose modes need a
        few kinds asks for just those; the rest are never built, so streaming
        ``values`` costs little more than a run without a listener."""

    def wants(self, cls: type[Event]) -> bool:
        wanted = self.wanted
        return wanted is None or cls in wanted

    def per_step(self, runner: _Deterministic) -> tuple[bool, bool]:
        """Whether a step's start and its task-end events are emitted at all: a
        stream whose modes read none of them skips both calls every step (with
        nothing emitted, nothing can await between the stop check and compute)."""
        wanted = self.wanted  # `wants`, inlined: once per attempt, four kinds
        if wanted is None:
            return True, True
        announce = StepStarted in wanted or TaskStarted in wanted
        ends = runner.deterministic or TaskFinished in wanted or TaskFailed in wanted
        return announce, ends

    def _wake_reader(self) -> None:
        fut = self._readable
        if fut is not None and not fut.done():
            fut.set_result(None)

    def _make(self, cls: type[Event], fields: dict[str, Any]) -> Event:
        ev = cls(
            run_id=self.run_id, attempt_id=self.attempt_id, index=self._index, **fields
        )
        self._index += 1
        return ev

    def push(self, cls: type[Event], fields: dict[str, Any]) -> None:
        """Queue an event the caller checked is wanted and has room: the hot path
        of a streamed run, one call per event."""
        self._buf.append(
            cls(
                run_id=self.run_id,
                attempt_id=self.attempt_id,
                index=self._index,
                **fields,
            )
        )
        self._index += 1
        fut = self._readable
        if fut is not None and not fut.done():
            fut.set_result(None)

    async def emit(self, cls: type[Event], **fields: Any) -> None:
        """Queue a non-droppable event, waiting while the buffer is full."""
        while len(self._buf) >= self._capacity and not self._closed:
            if self.driven:
                await yield_now()  # the driver drains the buffer, then resumes us
                continue
            import asyncio  # waiting means a listener's loop is running

            self._writable = asyncio.get_running_loop().create_future()
            await self._writable
        self._buf.append(self._make(cls, fields))
        self._wake_reader()

    def emit_nowait(self, cls: type[Event], **fields: Any) -> None:
        """Queue from synchronous code (node stream events).

        Tokens and debug events follow the drop/coalesce rules; other stream events
        are never dropped and may exceed the capacity briefly, because a sync node
        cannot be made to wait.
        """
        wanted = self.wanted
        if wanted is not None and cls not in wanted:
            return
        buf = self._buf
        if len(buf) >= self._capacity:
            if cls is ModelToken:
                last = buf[-1] if buf else None
                if (
                    isinstance(last, ModelToken)
                    and last.step == fields.get("step")
                    and last.ordinal == fields.get("ordinal")
                ):
                    buf[-1] = ModelToken(
                        run_id=last.run_id,
                        attempt_id=last.attempt_id,
                        index=last.index,
                        step=last.step,
                        ordinal=last.ordinal,
                        metadata=last.metadata,
                        text=last.text + fields["text"],
                    )
                else:
                    self.dropped_tokens += 1
                return
            if cls is CustomDebug:
                self.dropped_debug += 1
                return
        buf.append(self._make(cls, fields))
        self._wake_reader()

    def close(self, error: BaseException | None = None) -> None:
        """End the stream; a listener sees ``error`` raised after the last event."""
        self._closed = True
        self._error = error
        self._wake_reader()
        fut = self._writable
        if fut is not None and not fut.done():
            fut.set_result(None)

    async def __aiter__(self) -> AsyncIterator[Event]:
        buf = self._buf
        while True:
            if buf:
                ev = buf.popleft()
                fut = self._writable
                if fut is not None and not fut.done():
                    fut.set_result(None)
                yield ev  # type: ignore[misc]  # parts only reach a `direct` sink
                continue
            if self._closed:
                if self._error is not None:
                    raise self._error
                return
            import asyncio

            self._readable = asyncio.get_running_loop().create_future()
            await self._readable
