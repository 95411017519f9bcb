"""``Runtime.stream`` and friends: a run (or a resume) as stream parts.

Async entry points wrap ``RunHandle.stream``; the sync twins iterate them through
the one sync bridge (``hive_core/_bridge.py``). Kept apart from ``_runtime.py`` so
each module keeps one job. See ``docs/guides/streaming.md``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Protocol

from .._bridge import ensure_no_running_loop, iterate_sync
from ..run_types import RunOptions
from ._handle import RunHandle
from ._stream import StreamPart

__all__ = ["StreamingMixin"]

Modes = str | Sequence[str]


class _Runs(Protocol):
    _inline: bool

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
        return self.run(thread_id, input, options).stream(modes, subgraphs=subgraphs)

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
        handle = self.run(thread_id, input, options)
        return _sync_parts(self, handle, modes, subgraphs, "stream")

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
        handle = self.resume(thread_id, interrupt_id, payload, options)
        return _sync_parts(self, handle, modes, subgraphs, "stream_resume")


def _sync_parts(
    runtime: _Runs, handle: RunHandle, modes: Modes, subgraphs: bool, twin: str
) -> Iterator[StreamPart]:
    """An inline runtime's stream is driven without a loop, any other on one
    ``asyncio.Runner`` for the whole stream (both through ``_bridge.py``)."""
    name, instead = f"Runtime.{twin}_sync", f"runtime.{twin}(...)"
    if runtime._inline:
        ensure_no_running_loop(name, instead)
        return handle.stream_inline(modes, subgraphs=subgraphs)
    parts = handle.stream(modes, subgraphs=subgraphs)
    return iterate_sync(parts, name=name, instead=instead)
