"""``Runtime.stream`` and friends: a run (or a resume) as stream parts.

``stream`` and ``stream_sync`` drive their run directly (``_driven.py``: no
``RunHandle``, whose outcome nobody could ask); the resumes go through
``RunHandle.stream``. The sync twins iterate through the one sync bridge
(``hive_core/_bridge.py``). Kept apart from ``_runtime.py`` so
each module keeps one job. See ``docs/guides/streaming.md``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Protocol

from .._bridge import ensure_no_running_loop, iterate_sync
from ..run_types import Outcome, RunOptions
from ._driven import DrivenRun, drive
from ._handle import RunHandle
from ._loop import Attempt
from ._stream import StreamPart

__all__ = ["StreamingMixin"]

Modes = str | Sequence[str]


class _Runs(Protocol):
    _inline: bool

    def _attempt(self, thread_id: str, options: RunOptions | None) -> Attempt: ...

    async def _run_attempt(self, attempt: Attempt, input: object) -> Outcome: ...

    def run(
        self, thread_id: str, input: object = None, options: RunOptions | None = None
    ) -> RunHandle: ...

    def resume(
        self,
        thread_id: str,
        interrupt_id: str,
        payload: object,
        options: RunOptions | None = None,
    ) -> RunHandle: ...


class StreamingMixin:
    """The streaming methods of ``Runtime``."""

    def stream(
        self: _Runs,
        thread_id: str,
        input: object = None,
        *,
        modes: Modes = ("values",),
        subgraphs: bool = False,
        options: RunOptions | None = None,
    ) -> AsyncIterator[StreamPart]:
        """Run and yield stream parts in ``modes`` (LangGraph's ``stream_mode``):
        ``values``, ``updates``, ``messages``, ``custom``, ``events``, one or
        several. Parts are equal to ``project_stream(events, modes)`` of the run's
        events; breaking out early cancels the run. ``subgraphs=True`` adds the
        parts of ``Subgraph`` children, with ``namespace`` set (LangGraph's
        ``subgraphs=True``)."""
        return _driven(self, thread_id, input, options, modes, subgraphs).parts()

    def stream_sync(
        self: _Runs,
        thread_id: str,
        input: object = None,
        *,
        modes: Modes = ("values",),
        subgraphs: bool = False,
        options: RunOptions | None = None,
    ) -> Iterator[StreamPart]:
        """Blocking ``stream`` for scripts; not callable inside an event loop."""
        return _sync_parts(
            self,
            lambda: _driven(self, thread_id, input, options, modes, subgraphs),
            "stream",
        )

    def stream_resume(
        self: _Runs,
        thread_id: str,
        interrupt_id: str,
        payload: object,
        *,
        modes: Modes = ("values",),
        subgraphs: bool = False,
        options: RunOptions | None = None,
    ) -> AsyncIterator[StreamPart]:
        """Answer the pending interrupt (as ``resume``) and stream the continued
        run in ``modes``."""
        handle = self.resume(thread_id, interrupt_id, payload, options)
        return handle.stream(modes, subgraphs=subgraphs)

    def stream_resume_sync(
        self: _Runs,
        thread_id: str,
        interrupt_id: str,
        payload: object,
        *,
        modes: Modes = ("values",),
        subgraphs: bool = False,
        options: RunOptions | None = None,
    ) -> Iterator[StreamPart]:
        """Blocking ``stream_resume`` for scripts."""
        return _sync_parts(
            self,
            lambda: self.resume(thread_id, interrupt_id, payload, options)._drive(
                modes, subgraphs
            ),
            "stream_resume",
        )


def _driven(
    runtime: _Runs,
    thread_id: str,
    input: object,
    options: RunOptions | None,
    modes: Modes,
    subgraphs: bool,
) -> DrivenRun:
    """A new run on ``thread_id`` streamed in ``modes`` (thread id checked first,
    then the modes, as ``run(...).stream(...)`` does)."""
    attempt = runtime._attempt(thread_id, options)
    return drive(
        attempt, lambda: runtime._run_attempt(attempt, input), modes, subgraphs
    )


def _sync_parts(
    runtime: _Runs, build: Callable[[], DrivenRun], twin: str
) -> Iterator[StreamPart]:
    """An inline runtime's stream is driven without a loop, any other on one
    ``asyncio.Runner`` for the whole stream (both through ``_bridge.py``). The
    running-loop check comes first, then ``build`` (which checks the thread id
    and the modes)."""
    name, instead = f"Runtime.{twin}_sync", f"runtime.{twin}(...)"
    ensure_no_running_loop(name, instead)
    driven = build()
    if runtime._inline:
        return driven.parts_inline()
    return iterate_sync(driven.parts(), name=name, instead=instead)
