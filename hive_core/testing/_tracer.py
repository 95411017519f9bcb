"""``Tracer``: runs graphs for golden tests and returns each run's ``Trace``
(the pytest ``hive_trace`` fixture is one; see ``docs/testing.md``)."""

from __future__ import annotations

from types import TracebackType

import attrs

from .._bridge import run_sync
from ..environment import Environment
from ..graph import CompiledGraph
from ..persistence import CheckpointStore, InMemoryCheckpointStore
from ..run_types import RunOptions
from ..runtime import Runtime
from ._collect import finish, prepare_environment, trace_options
from ._fakes import FakeClock, SequentialIds
from ._trace import Trace

__all__ = ["Tracer"]


@attrs.define(eq=False)
class _GraphRuns:
    graph: CompiledGraph
    store: CheckpointStore
    runtimes: dict[str, Runtime] = attrs.Factory(dict)


class Tracer:
    """Runs graphs for golden tests and returns each run's ``Trace``.

    Every thread gets its own ``Runtime`` with ``SequentialIds`` and a
    ``FakeClock``, so a thread's trace does not depend on what else the test ran;
    threads of one graph share a checkpoint store (an ``InMemoryCheckpointStore``
    unless given), so interrupted runs can be resumed. Stream events are always
    buffered per task (``deterministic_token_streaming``) so their order is stable.

    The pytest fixture ``hive_trace`` is a ``Tracer``. Its synchronous calls run
    their ``*_async`` twins through Hive's one sync bridge, like ``Runtime.run_sync``.
    """

    def __init__(self) -> None:
        self._graphs: dict[int, _GraphRuns] = {}
        self._last: tuple[CompiledGraph, str] | None = None

    def runtime(
        self,
        graph: CompiledGraph,
        thread_id: str = "test",
        *,
        checkpoint_store: CheckpointStore | None = None,
        environment: Environment | None = None,
    ) -> Runtime:
        """The runtime used for ``thread_id`` of ``graph`` (created on first use).

        A new ``checkpoint_store`` replaces the graph's store and starts fresh
        runtimes that load their threads from it, like a process restart.
        """
        runs = self._graphs.get(id(graph))
        if runs is None or (
            checkpoint_store is not None and checkpoint_store is not runs.store
        ):
            store = checkpoint_store or InMemoryCheckpointStore()
            runs = self._graphs[id(graph)] = _GraphRuns(graph, store)
        rt = runs.runtimes.get(thread_id)
        if rt is None:
            rt = Runtime(
                graph,
                environment=prepare_environment(environment, FakeClock()),
                checkpoint_store=runs.store,
                ids=SequentialIds(),
            )
            runs.runtimes[thread_id] = rt
        elif environment is not None:
            rt.environment = prepare_environment(environment, rt.environment.clock)
        return rt

    def __call__(
        self,
        graph: CompiledGraph,
        input: object = None,
        *,
        thread_id: str = "test",
        options: RunOptions | None = None,
        checkpoint_store: CheckpointStore | None = None,
        environment: Environment | None = None,
        resume: tuple[str | None, object] | None = None,
        capture_errors: bool = False,
    ) -> Trace:
        """Run ``graph`` on ``thread_id`` (or resume it) and return the trace.

        Args:
            graph: The compiled graph.
            input: The run's input, as for ``Runtime.run``.
            thread_id: Runs on one thread continue it; other threads are
                independent.
            options: Run options (stream events are buffered regardless).
            checkpoint_store: A store to use instead of the in-memory one.
            environment: Services for the nodes; a real clock is replaced by a
                ``FakeClock``.
            resume: ``(interrupt_id, payload)`` to answer the thread's pending
                interrupt instead of starting a run; ``None`` as the id means
                "whatever is pending".
            capture_errors: Put a run error into ``trace.error`` instead of
                raising it.

        Raises:
            Exception: the run's error, with the trace so far attached as a note,
                unless ``capture_errors``.
        """
        return run_sync(
            self.run_async(
                graph,
                input,
                thread_id=thread_id,
                options=options,
                checkpoint_store=checkpoint_store,
                environment=environment,
                resume=resume,
                capture_errors=capture_errors,
            ),
            name="tracer",
            instead="await tracer.run_async(...)",
        )

    async def run_async(
        self,
        graph: CompiledGraph,
        input: object = None,
        *,
        thread_id: str = "test",
        options: RunOptions | None = None,
        checkpoint_store: CheckpointStore | None = None,
        environment: Environment | None = None,
        resume: tuple[str | None, object] | None = None,
        capture_errors: bool = False,
    ) -> Trace:
        """``Tracer(...)`` for async code."""
        if resume is not None and input is not None:
            raise TypeError("pass an input or resume=(interrupt_id, payload), not both")
        rt = self.runtime(
            graph,
            thread_id,
            checkpoint_store=checkpoint_store,
            environment=environment,
        )
        opts = trace_options(options)
        self._last = (graph, thread_id)
        if resume is None:
            handle = rt.run(thread_id, input, opts)
        else:
            interrupt_id, payload = resume
            if interrupt_id is None:
                # Resume continues the latest checkpoint, so ask it what is pending.
                store = rt.checkpoint_store
                latest = await store.load_latest(thread_id) if store else None
                pending = latest.interruption if latest is not None else None
                interrupt_id = pending.id if pending is not None else ""
            handle = rt.resume(thread_id, interrupt_id, payload, opts)
        return await finish(rt, thread_id, handle, capture_errors=capture_errors)

    def resume(
        self,
        payload: object = None,
        *,
        interrupt_id: str | None = None,
        graph: CompiledGraph | None = None,
        thread_id: str | None = None,
        options: RunOptions | None = None,
        environment: Environment | None = None,
        capture_errors: bool = False,
    ) -> Trace:
        """Answer the pending interrupt of the last traced thread (or of
        ``graph``/``thread_id``) with ``payload`` and return the resumed run's
        trace."""
        return run_sync(
            self.resume_async(
                payload,
                interrupt_id=interrupt_id,
                graph=graph,
                thread_id=thread_id,
                options=options,
                environment=environment,
                capture_errors=capture_errors,
            ),
            name="tracer.resume",
            instead="await tracer.resume_async(...)",
        )

    async def resume_async(
        self,
        payload: object = None,
        *,
        interrupt_id: str | None = None,
        graph: CompiledGraph | None = None,
        thread_id: str | None = None,
        options: RunOptions | None = None,
        environment: Environment | None = None,
        capture_errors: bool = False,
    ) -> Trace:
        """``resume`` for async code."""
        if graph is None:
            if self._last is None:
                raise RuntimeError(
                    "nothing to resume: trace a run first, or pass graph="
                )
            graph = self._last[0]
            thread_id = thread_id if thread_id is not None else self._last[1]
        return await self.run_async(
            graph,
            thread_id=thread_id if thread_id is not None else "test",
            options=options,
            environment=environment,
            resume=(interrupt_id, payload),
            capture_errors=capture_errors,
        )

    def close(self) -> None:
        """Nothing to release: kept so ``with Tracer() as tracer:`` code and
        explicit ``close()`` calls keep working."""

    def __enter__(self) -> Tracer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
