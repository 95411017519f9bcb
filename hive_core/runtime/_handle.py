"""``RunHandle``: one call on one thread, its events and its outcome.

One error, one place: a failed run's error is held by the handle (the task itself
ends normally, so asyncio never logs "Task exception was never retrieved"); the
event stream ends by raising it and awaiting the outcome raises it, and receiving
it either way is enough. See ``docs/concepts/supersteps.md``.
"""

from __future__ import annotations

from collections.abc import (
    AsyncIterator,
    Callable,
    Coroutine,
    Generator,
    Iterator,
    Sequence,
)
from typing import TYPE_CHECKING, Any

from ..errors import EventsNotRequestedError, HiveInternalError, InvalidRunOptionsError
from ..events import Event
from ..run_types import Outcome
from ._driven import DrivenRun, drive
from ._loop import Attempt
from ._sink import EventSink
from ._stream import StreamPart, normalize_modes

if TYPE_CHECKING:
    import asyncio

__all__ = ["RunHandle"]


class RunHandle:
    """One call on one thread: its ids, its events and its outcome.

    Nothing runs until you iterate ``events`` or await the outcome. Ask for events
    first if you want them: a run started by awaiting the outcome builds none.
    """

    def __init__(
        self, attempt: Attempt, start: Callable[[], Coroutine[Any, Any, Outcome]]
    ) -> None:
        self._attempt = attempt
        self._start = start
        self._task: asyncio.Future[Outcome | None] | None = None
        self._error: Exception | None = None
        self._driven: DrivenRun | None = None

    @property
    def attempt_id(self) -> str:
        return self._attempt.attempt_id

    @property
    def run_id(self) -> str | None:
        """Known once the run has resolved its thread's baseline."""
        return self._attempt.run_id

    def _ensure_started(self) -> asyncio.Future[Outcome | None]:
        if self._task is None:
            import asyncio

            self._task = asyncio.ensure_future(self._main())
        return self._task

    async def _main(self) -> Outcome | None:
        """Run the attempt; a failure is kept on the handle (``None`` returned)."""
        sink = self._attempt.sink
        try:
            outcome = await self._start()
        except Exception as exc:
            self._error = exc
            if sink is not None:
                sink.close(exc)
            return None
        except BaseException as exc:  # cancellation and exits stay the task's own
            if sink is not None:
                sink.close(exc)
            raise
        if sink is not None:
            sink.close()
        return outcome

    @property
    def events(self) -> AsyncIterator[Event]:
        """The attempt's events in canonical order; ends by raising the run's error
        (the same one the outcome raises).

        Raises ``EventsNotRequestedError`` once the run has started without them.
        """
        attempt = self._attempt
        if self._driven is not None:
            raise EventsNotRequestedError(attempt.attempt_id)
        if attempt.sink is None:
            if self._task is not None:
                raise EventsNotRequestedError(attempt.attempt_id)
            try:
                attempt.options.check_ranges()
                capacity = attempt.options.event_buffer_capacity
            except InvalidRunOptionsError:
                # the run raises this error right after `run_started`; the buffer
                # only has to carry that far
                capacity = 1
            attempt.sink = EventSink(capacity)
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        sink = self._attempt.sink
        if sink is None:  # pragma: no cover - set by `events`
            raise HiveInternalError("event sink missing")
        self._ensure_started()
        async for ev in sink:
            yield ev

    def stream(
        self, modes: str | Sequence[str] = ("values",), *, subgraphs: bool = False
    ) -> AsyncIterator[StreamPart]:
        """The run as stream parts in ``modes`` (``docs/guides/streaming.md``),
        equal to ``project_stream`` of the run's events. The stream drives the run:
        nothing runs until it is iterated, and stopping early cancels the run.
        Afterwards ``outcome()`` gives the run's outcome. Raises
        ``InvalidRunOptionsError`` for an unknown mode and
        ``EventsNotRequestedError`` once the run has started otherwise.
        ``subgraphs`` adds the parts of children (``Subgraph`` nodes) with their
        ``namespace``."""
        return self._drive(modes, subgraphs).parts()

    def stream_inline(
        self, modes: str | Sequence[str], *, subgraphs: bool = False
    ) -> Iterator[StreamPart]:
        """``stream`` driven from sync code without an event loop; only for a
        runtime whose runs never await (``Runtime.stream_sync`` decides)."""
        return self._drive(modes, subgraphs).parts_inline()

    def _drive(self, modes: str | Sequence[str], subgraphs: bool) -> DrivenRun:
        names = normalize_modes(modes)  # a bad mode is refused before the state
        attempt = self._attempt  # check; read once (an iterator is used up)
        if self._task is not None or self._driven is not None or attempt.sink:
            raise EventsNotRequestedError(attempt.attempt_id)
        self._driven = drive(attempt, self._start, names, subgraphs)
        return self._driven

    async def outcome(self) -> Outcome:
        """Wait for the attempt to end; raises the run's error if it failed."""
        driven = self._driven
        if driven is not None:
            if driven.error is not None:
                raise driven.error
            if driven.outcome is None:
                raise EventsNotRequestedError(self._attempt.attempt_id)
            return driven.outcome
        outcome = await self._ensure_started()
        if outcome is None:
            error = self._error
            if error is None:  # pragma: no cover - set together with None
                raise HiveInternalError("a failed run kept no error")
            raise error
        return outcome

    def __await__(self) -> Generator[Any, None, Outcome]:
        return self.outcome().__await__()

    def request_stop(self) -> None:
        """Stop at the next step boundary: the step in flight finishes and commits
        (its checkpoint is saved), then the outcome is ``cancelled``. A graceful
        shutdown uses this (``docs/service.md``); ``cancel`` does not wait."""
        self._attempt.cancel_requested = True

    def cancel(self) -> None:
        """Cancel the run: between steps it stops cleanly, mid-step nothing of the
        step is committed. The outcome is ``cancelled``, not an error."""
        self._attempt.cancel_requested = True
        runner = self._attempt.runner
        if runner is not None:
            runner.cancel_requested = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
