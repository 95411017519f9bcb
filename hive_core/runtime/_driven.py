"""A streamed run driven by its consumer: no task, no waiting on the event buffer.

``RunHandle.stream`` does not start the run as an asyncio task feeding a queue: the
stream itself steps the run's coroutine and, whenever the run pauses (after a step,
or on a full buffer), projects what it emitted into parts. A real future the run
awaits (an async node, a blocking one, the thread's turn) is passed up to the event
loop unchanged, as ``await`` would; a bare yield is not, so a graph of plain sync
nodes streams without touching the loop, and its sync twin needs no loop at all
(``docs/guides/streaming.md``, ``docs/performance.md``).
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import (
    AsyncIterator,
    Callable,
    Coroutine,
    Generator,
    Iterator,
    Sequence,
)
from typing import Any

from .._bridge import drive_steps
from ..errors import HiveInternalError
from ..run_types import Outcome
from ._loop import Attempt
from ._sink import EventSink
from ._stream import StreamPart, StreamProjector, normalize_modes, stream_plan

__all__ = ["DrivenRun", "drive"]

_PASS_EVERY = 16
"""Bare yields between those handed to the loop, so other tasks still get turns."""


@types.coroutine
def _suspend(yielded: object) -> Generator[Any, Any, Any]:
    """Hand what the run yielded to the task driving us; return what it sends."""
    return (yield yielded)


def drive(
    attempt: Attempt,
    start: Callable[[], Coroutine[Any, Any, Outcome]],
    modes: str | Sequence[str],
    subgraphs: bool,
) -> DrivenRun:
    """The attempt streamed in ``modes`` (checked here), its trace carrying the
    modes' data. ``Runtime.stream`` calls this without a ``RunHandle``: nobody
    can ask that stream's outcome."""
    return DrivenRun(attempt, start, normalize_modes(modes), subgraphs)


class DrivenRun:
    """One run streamed in ``modes``; ``outcome``/``error`` are set once it ended."""

    def __init__(
        self,
        attempt: Attempt,
        start: Callable[[], Coroutine[Any, Any, Outcome]],
        modes: tuple[str, ...],
        subgraphs: bool = False,
    ) -> None:
        self.attempt = attempt
        self.start = start
        self.coro: Coroutine[Any, Any, Outcome] | None = None
        self.modes = modes
        self.subgraphs = subgraphs
        self.outcome: Outcome | None = None
        self.error: BaseException | None = None
        self.done = False
        plan = stream_plan(modes, subgraphs)
        self.sink = sink = EventSink(attempt.options.event_buffer_capacity)
        sink.driven = True
        sink.wanted = plan.wanted
        sink.direct = plan.direct  # no event is recorded: parts directly
        attempt.sink = sink
        # the trace carries the modes' data too (before the attempt starts)
        attempt.streams_values = attempt.streams_values or plan.values
        attempt.streams_updates = attempt.streams_updates or plan.updates

    def _step(self, value: Any, error: BaseException | None) -> tuple[bool, Any]:
        """Advance the run once: ``(True, yielded)``, or ``(False, None)`` at its end."""
        coro = self.coro
        if coro is None:
            coro = self.coro = self.start()  # created on the first item asked for
        try:
            if error is None:
                return True, coro.send(value)
            return True, coro.throw(error)
        except StopIteration as stop:
            self.outcome = stop.value
        except Exception as exc:
            self.error = exc
        self.done = True
        return False, None

    def _projector(self) -> StreamProjector:
        """Built on the first event: a ``direct`` stream queues only parts."""
        return StreamProjector(self.modes, subgraphs=self.subgraphs)

    async def parts(self) -> AsyncIterator[StreamPart]:
        projector: StreamProjector | None = None
        buf = self.sink._buf
        popleft = buf.popleft
        value: Any = None
        error: BaseException | None = None
        bare = 0
        self.coro = coro = self.start()
        send = coro.send
        try:
            while True:
                running = True  # `_step`, inlined for the plain send of every step
                try:
                    yielded = send(value) if error is None else coro.throw(error)
                except StopIteration as stop:
                    self.outcome = stop.value
                    running = False
                    self.done = True
                except Exception as exc:
                    self.error = exc
                    running = False
                    self.done = True
                value, error = None, None
                while buf:
                    item = popleft()
                    if type(item) is StreamPart:  # built directly (`sink.direct`)
                        yield item
                        continue
                    if projector is None:
                        projector = self._projector()
                    for part in projector.feed(item):  # type: ignore[arg-type]
                        yield part
                if not running:
                    break
                if yielded is None:
                    bare += 1
                    if bare % _PASS_EVERY:
                        continue
                try:
                    value = await _suspend(yielded)
                except BaseException as exc:  # a cancel of the consumer: the run's
                    error = exc
            if self.error is not None:
                raise self.error
        finally:
            if not self.done and self.coro is not None:
                await self._cancel()

    def parts_inline(self) -> Iterator[StreamPart]:
        """``parts`` for a run that never awaits a real future (an inline graph),
        driven from sync code without an event loop (``drive_steps``)."""
        projector: StreamProjector | None = None
        buf = self.sink._buf
        popleft = buf.popleft
        self.coro = coro = self.start()
        send = coro.send  # `drive_steps`, inlined: one frame less every step
        try:
            while True:
                try:
                    if send(None) is not None:
                        coro.close()
                        raise HiveInternalError(
                            "an inline stream suspended on a future; please report this"
                        )
                except StopIteration as stop:
                    self.outcome = stop.value
                    self.done = True
                except Exception as exc:
                    self.error = exc
                    self.done = True
                while buf:
                    item = popleft()
                    if type(item) is StreamPart:
                        yield item
                        continue
                    if projector is None:
                        projector = self._projector()
                    yield from projector.feed(item)  # type: ignore[arg-type]
                if self.done:
                    break
            if self.error is not None:
                raise self.error
        finally:
            if not self.done:
                self._stop_run()
                with contextlib.suppress(Exception):
                    for _ in drive_steps(coro):
                        pass
                self.done = True

    def _stop_run(self) -> None:
        attempt = self.attempt
        attempt.cancel_requested = True
        if attempt.runner is not None:
            attempt.runner.cancel_requested = True
        self.sink._buf.clear()
        self.sink.wanted = frozenset()  # nobody reads what it emits now
        self.sink.direct = False

    async def _cancel(self) -> None:
        """The consumer stopped early: cancel the run and let it end cleanly (its
        thread is released; the step in flight commits nothing)."""
        self._stop_run()
        value: Any = None
        error: BaseException | None = None
        while True:
            running, yielded = self._step(value, error)
            value, error = None, None
            if not running:
                return
            if yielded is None:
                continue
            cancel = getattr(yielded, "cancel", None)
            if cancel is not None:
                cancel()  # what Task.cancel does to the future it waits on
            try:
                value = await _suspend(yielded)
            except BaseException as exc:
                error = exc
