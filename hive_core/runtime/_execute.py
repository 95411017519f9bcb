"""The executor: runs one step's tasks. Concurrency lives here and nowhere else.

Synchronous nodes without retries run inline (no asyncio task) when they are the
step's only task or are declared ``cpu_only=True``; two or more in one step run on
the bounded node thread pool (``_pool.py``), so blocking I/O does not serialise a
fan-out. Async nodes, blocking nodes and nodes with retry policies run as asyncio
tasks started in ordinal order, at most ``max_concurrent_tasks`` at a time; a step
whose only task awaits awaits it directly. One task's failure never cancels its
siblings. Results come back in ordinal order, so nothing downstream can see which
task finished first. With a run observer set, every task gets its own observer
scope: no pool, and each task of an awaiting step is an asyncio task of its own.
See ``docs/concepts/execution.md``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, cast, final

import msgspec

from .._observe import RunObserver, TaskScope, current_task
from ..environment import Environment
from ..errors import node_error
from ..events import (
    STREAM_KINDS,
    CustomDebug,
    CustomEvent,
    Event,
    ModelBreakerChanged,
    ModelInvocationFinished,
    ModelInvocationStarted,
    ModelToken,
    StreamEvent,
    SubgraphEvent,
    ToolInvocationFinished,
    ToolInvocationStarted,
)
from ..nodes import InlineInterrupt, NodeInput, NodeOutput, Resume, Spawn, _task_input
from ..state._channels import Channel
from ..state._schema import SchemaSpec
from ..state._store import InitialCache, StoreView
from ._pool import node_pool
from ._sink import EventSink
from ._state import Task

if TYPE_CHECKING:
    import asyncio

    from ..persistence._format import CheckpointStore

__all__ = [
    "Failure",
    "StepRunner",
    "normalize_output",
    "outputs_or_raise",
    "stream_fields",
]

_EMPTY = NodeOutput()

_STAMPED = frozenset({"run_id", "attempt_id", "index", "step", "ordinal"})
_PAYLOAD: Mapping[type[Event], tuple[str, ...]] = {
    cls: tuple(f for f in cls.__struct_fields__ if f not in _STAMPED)
    for cls in (
        ModelInvocationStarted,
        ModelToken,
        ModelInvocationFinished,
        ToolInvocationStarted,
        ToolInvocationFinished,
        CustomDebug,
        SubgraphEvent,
        CustomEvent,
        ModelBreakerChanged,
    )
}
"""A stream event's own fields (the runtime stamps the rest), per class."""


def stream_fields(event: StreamEvent, step: int, ordinal: int) -> dict[str, Any]:
    """The fields to emit ``event`` with, stamped with its task's step and ordinal.

    Raises:
        TypeError: ``event`` is not one of the stream event classes, or a
            ``CustomEvent``'s data is not JSON-able.
    """
    names = _PAYLOAD.get(type(event))
    if names is None:
        raise TypeError(
            f"emit() takes a stream event ({', '.join(sorted(STREAM_KINDS))}), "
            f"got {type(event).__name__}"
        )
    fields: dict[str, Any] = {"step": step, "ordinal": ordinal}
    for name in names:
        fields[name] = getattr(event, name)
    fields["metadata"] = dict(event.metadata)
    if type(event) is CustomEvent:
        # JSON-able now, so the trace can be persisted and projected later
        fields["data"] = msgspec.to_builtins(event.data)
    return fields


class StreamOverflowError(Exception):
    """A task buffered more non-droppable stream events than the buffer holds."""


@final
class Failure:
    """A task that failed after its last attempt."""

    __slots__ = ("attempts", "error")

    def __init__(self, error: BaseException, attempts: int) -> None:
        self.error = error
        self.attempts = attempts


def normalize_output(result: object) -> NodeOutput:
    """A node's return value as a ``NodeOutput`` (``None`` means no effects)."""
    if result is None:
        return _EMPTY
    if type(result) is NodeOutput or isinstance(result, NodeOutput):
        return result
    if inspect.isawaitable(result):
        close = getattr(result, "close", None)
        if close is not None:
            close()  # never awaited: closing it avoids a "never awaited" warning
        raise TypeError(
            f"node returned {type(result).__name__}; a node that returns an "
            "awaitable must be declared `async def` (or be an object whose "
            "__call__ is `async def`)"
        )
    raise TypeError(
        f"node returned {type(result).__name__}; expected NodeOutput or None"
    )


def _paused_output(task: Task, payload: object) -> NodeOutput:
    """What ``ctx.interrupt(payload)`` asks of the commit: pause with ``payload``
    and run this task again (same node, same task-local values) on resume, where
    the call returns the answer. The task's writes are dropped: it never returned."""
    local = task.seed.local
    if not local:
        return NodeOutput(interrupt=payload, next=(task.node,))
    again = cast("Mapping[Channel[Any] | str, object]", local)  # ids are keys too
    return NodeOutput(interrupt=payload, next=(), spawn=(Spawn(task.node, again),))


class _HasAttemptId(Protocol):
    @property
    def attempt_id(self) -> str: ...


@final
class StepRunner:
    """Per-attempt constants for running tasks, built once per attempt."""

    __slots__ = (
        "_attempt",
        "buffers",
        "cancel_requested",
        "checkpoint_store",
        "deterministic",
        "emits",
        "environment",
        "initial",
        "max_concurrent",
        "obs_step",
        "observer",
        "poolable",
        "run_id",
        "schema",
        "sink",
        "thread_id",
    )

    def __init__(  # positional: built once per attempt, i.e. per call
        self,
        schema: SchemaSpec,
        initial: InitialCache,
        environment: Environment,
        thread_id: str,
        run_id: str,
        attempt: _HasAttemptId,
        max_concurrent: int,
        sink: EventSink | None,
        deterministic: bool,
        checkpoint_store: CheckpointStore | None = None,
    ) -> None:
        self.schema = schema
        self.checkpoint_store = checkpoint_store
        self.initial = initial
        self.environment = environment
        self.thread_id = thread_id
        self.run_id = run_id
        self._attempt = attempt
        self.max_concurrent = max_concurrent
        self.sink = sink
        wanted = None if sink is None else sink.wanted
        self.emits = sink is not None and (
            wanted is None or not wanted.isdisjoint(_PAYLOAD)
        )
        """Whether nodes get an emitter: only when the listener reads an event kind
        a node emits. A stream of ``values`` or ``updates`` reads none, so its
        nodes see ``NodeInput.streaming`` false, as in a run without a listener."""
        self.deterministic = deterministic and self.emits
        self.poolable = not self.emits or self.deterministic
        """Whether sync nodes may run on the pool: a live event stream is fed from
        the loop's thread only, so while nodes feed one, sync nodes stay on it."""
        self.cancel_requested = False
        self.buffers: dict[int, list[tuple[type[Event], dict[str, Any]]]] = {}
        self.observer: RunObserver | None = environment.observer
        self.obs_step: object = None
        """The observer's scope of the running step (``docs/observability.md``)."""

    @property
    def attempt_id(self) -> str:
        """The attempt's id, read through it (a random one is drawn when first
        read, ``Attempt.attempt_id``)."""
        return self._attempt.attempt_id

    def _emit_event(self, step: int, ordinal: int, event: StreamEvent) -> None:
        """What a task's ``NodeInput.emit`` calls, with its step and ordinal bound
        by ``functools.partial`` (one C call per task instead of a closure)."""
        sink = self.sink
        assert sink is not None  # bound only when someone listens
        fields = stream_fields(event, step, ordinal)
        cls = type(event)
        if not self.deterministic:
            sink.emit_nowait(cls, **fields)
            return
        capacity = sink._capacity  # same bound per task in deterministic mode
        buf = self.buffers[ordinal]
        if len(buf) >= capacity:
            if cls is ModelToken and buf and buf[-1][0] is ModelToken:
                prev = buf[-1][1]
                buf[-1] = (
                    ModelToken,
                    {**prev, "text": prev["text"] + fields["text"]},
                )
                return
            if cls is ModelToken:
                sink.dropped_tokens += 1
                return
            if cls is CustomDebug:
                sink.dropped_debug += 1
                return
            raise StreamOverflowError(
                f"task {ordinal} emitted more than {capacity} buffered stream events"
            )
        buf.append((cls, fields))

    def _input(
        self, task: Task, step: int, values: Mapping[str, Any], resume: Resume | None
    ) -> NodeInput:
        """The task's input for one attempt; a new attempt starts an empty buffer."""
        if self.deterministic:
            self.buffers[task.ordinal] = []
        return _task_input(
            StoreView(self.schema, values, task.seed.local, self.initial),
            task.node,
            task,
            step,
            resume,
            partial(self._emit_event, step, task.ordinal) if self.emits else None,
            self,
        )

    def _call_sync(
        self, task: Task, step: int, values: Mapping[str, Any], resume: Resume | None
    ) -> NodeOutput:
        """Call a sync node function and normalise what it returned."""
        try:
            result = task.spec.fn(self._input(task, step, values, resume))
        except InlineInterrupt as asked:
            return _paused_output(task, asked.payload)
        if result is None:
            return _EMPTY
        if type(result) is NodeOutput:
            return result
        return normalize_output(result)

    async def _run_task(
        self, task: Task, step: int, values: Mapping[str, Any], resume: Resume | None
    ) -> NodeOutput | Failure:
        obs = self.observer
        if obs is None:
            return await self._attempts(task, step, values, resume, None)
        scope = obs.task_started(self.obs_step, task.node, task.ordinal, task.id)
        current_task.set(TaskScope(obs, scope))  # this asyncio task's own context
        try:
            result = await self._attempts(task, step, values, resume, scope)
        except BaseException as exc:
            obs.task_ended(scope, exc, 1)
            raise
        if isinstance(result, Failure):
            obs.task_ended(scope, result.error, result.attempts)
        else:
            obs.task_ended(scope, None, 1)
        return result

    async def _attempts(
        self,
        task: Task,
        step: int,
        values: Mapping[str, Any],
        resume: Resume | None,
        scope: object,
    ) -> NodeOutput | Failure:
        """Call the node until it succeeds or its retry policy gives up."""
        import asyncio  # only the awaiting path needs it: inline runs never load it

        spec = task.spec
        policy = spec.retry
        max_attempts = policy.max_attempts if policy is not None else 1
        attempt = 1
        while True:
            try:
                if spec.is_async:
                    node_input = self._input(task, step, values, resume)
                    try:
                        result = await spec.fn(node_input)  # type: ignore[misc]
                    except InlineInterrupt as asked:
                        return _paused_output(task, asked.payload)
                    return normalize_output(result)
                if spec.blocking:
                    return await asyncio.to_thread(
                        self._call_sync, task, step, values, resume
                    )
                return self._call_sync(task, step, values, resume)
            except asyncio.CancelledError as exc:
                if self.cancel_requested:
                    raise
                error: BaseException = exc  # a node's own CancelledError fails it
            except Exception as exc:
                error = exc
            if attempt >= max_attempts or policy is None:
                return Failure(error, attempt)
            if self.observer is not None:
                self.observer.task_retried(scope, attempt)
            try:
                await self.environment.clock.sleep(policy.delay_after(attempt))
            except asyncio.CancelledError:
                self.cancel_requested = True  # a cancelled backoff cancels the run
                raise
            except Exception as exc:
                return Failure(exc, attempt)
            attempt += 1

    def run_inline(
        self,
        tasks: Sequence[Task],
        step: int,
        values: Mapping[str, Any],
        resume: Resume | None,
    ) -> list[NodeOutput | Failure]:
        """Run a step whose nodes are all plain sync functions, without awaiting."""
        if self.observer is not None:  # each task in its own observer scope
            return [self._observed_inline(t, step, values, resume) for t in tasks]
        if len(tasks) == 1:  # the common chain / loop step: no list building
            task = tasks[0]
            try:
                return [self._call_sync(task, step, values, resume)]
            except Exception as exc:
                return [Failure(exc, 1)]
            except BaseException as exc:
                return [_own_cancel(exc)]
        if self.poolable and _pooled_count(tasks) > 1:
            return self._run_pooled(tasks, step, values, resume)
        return [self._call_caught(task, step, values, resume) for task in tasks]

    def _call_caught(
        self, task: Task, step: int, values: Mapping[str, Any], resume: Resume | None
    ) -> NodeOutput | Failure:
        """``_call_sync`` with the node's exceptions as its ``Failure``."""
        try:
            return self._call_sync(task, step, values, resume)
        except Exception as exc:
            return Failure(exc, 1)
        except BaseException as exc:
            return _own_cancel(exc)

    def _observed_inline(
        self, task: Task, step: int, values: Mapping[str, Any], resume: Resume | None
    ) -> NodeOutput | Failure:
        """One inline task between the observer's ``task_started`` and
        ``task_ended``, on this thread (the observer's context is this thread's)."""
        obs = self.observer
        assert obs is not None
        scope = obs.task_started(self.obs_step, task.node, task.ordinal, task.id)
        token = current_task.set(TaskScope(obs, scope))
        try:
            result = self._call_caught(task, step, values, resume)
        except BaseException as exc:
            obs.task_ended(scope, exc, 1)
            raise
        finally:
            current_task.reset(token)
        obs.task_ended(scope, result.error if isinstance(result, Failure) else None, 1)
        return result

    def _run_pooled(
        self,
        tasks: Sequence[Task],
        step: int,
        values: Mapping[str, Any],
        resume: Resume | None,
    ) -> list[NodeOutput | Failure]:
        """Pooled tasks on the node pool, ``cpu_only`` ones meanwhile on this
        thread; results in ordinal order."""
        pool = node_pool(self.max_concurrent)
        call = self._call_caught
        futures = [
            pool.submit(call, t, step, values, resume) if t.spec.pooled else None
            for t in tasks
        ]
        results: list[Any] = [
            call(t, step, values, resume) if f is None else f
            for t, f in zip(tasks, futures, strict=True)
        ]
        return [
            r if f is None else f.result()
            for r, f in zip(results, futures, strict=True)
        ]

    async def run(
        self,
        tasks: Sequence[Task],
        step: int,
        values: Mapping[str, Any],
        resume: Resume | None,
    ) -> list[NodeOutput | Failure]:
        """Run every task; results in ordinal order."""
        if len(tasks) == 1 and self.observer is None:
            # nothing to run concurrently with: await it here (an observed task
            # needs its own asyncio task: its observer scope is a context var)
            return [await self._run_task(tasks[0], step, values, resume)]
        import asyncio

        results: list[NodeOutput | Failure | None] = [None] * len(tasks)
        pending: list[tuple[int, asyncio.Future[Any]]] = []
        # With an observer every task is an asyncio task (its own context for the
        # observer's scope) and nothing runs on the pool.
        observed = self.observer is not None
        awaiting: list[Task] = []
        pool = (
            node_pool(self.max_concurrent)
            if not observed and self.poolable and _pooled_count(tasks) > 1
            else None
        )
        for task in tasks:
            spec = task.spec
            if observed or not spec.inline:
                awaiting.append(task)
                continue
            if pool is not None and spec.pooled:
                future = pool.submit(self._call_caught, task, step, values, resume)
                pending.append((task.ordinal, asyncio.wrap_future(future)))
                continue
            try:
                results[task.ordinal] = self._call_sync(task, step, values, resume)
            except asyncio.CancelledError as exc:
                if self.cancel_requested:
                    raise
                results[task.ordinal] = Failure(exc, 1)
            except Exception as exc:
                results[task.ordinal] = Failure(exc, 1)
        queue = iter(awaiting)
        pending.extend(self._start(awaiting, queue, results, step, values, resume))
        if pending:
            try:
                done = await asyncio.gather(*(t for _, t in pending))
            except asyncio.CancelledError:
                for _ in queue:  # lanes start nothing more
                    pass
                for _, t in pending:
                    t.cancel()
                await asyncio.gather(*(t for _, t in pending), return_exceptions=True)
                raise
            for (ordinal, _), res in zip(pending, done, strict=True):
                if ordinal >= 0:
                    results[ordinal] = res
        return results  # type: ignore[return-value]

    def _start(
        self,
        awaiting: list[Task],
        queue: Iterator[Task],
        results: list[NodeOutput | Failure | None],
        step: int,
        values: Mapping[str, Any],
        resume: Resume | None,
    ) -> list[tuple[int, asyncio.Future[Any]]]:
        """Start the awaiting tasks, at most ``max_concurrent`` at a time, in
        ordinal order as slots free up. Unobserved, more tasks than slots run on
        ``max_concurrent`` lanes that each take the next task from ``queue``: a
        fan-out of a thousand starts eight asyncio tasks, not a thousand waiting
        on a semaphore (``docs/concepts/execution.md``). Lanes are ordinal -1."""
        import asyncio

        limit = self.max_concurrent
        if len(awaiting) > limit and self.observer is None:
            return [
                (
                    -1,
                    asyncio.ensure_future(
                        self._lane(queue, results, step, values, resume)
                    ),
                )
                for _ in range(limit)
            ]
        sem = asyncio.Semaphore(limit) if len(awaiting) > limit else None
        return [
            (
                t.ordinal,
                asyncio.ensure_future(
                    self._run_task(t, step, values, resume)
                    if sem is None
                    else self._limited(sem, t, step, values, resume)
                ),
            )
            for t in awaiting
        ]

    async def _lane(
        self,
        queue: Iterator[Task],
        results: list[NodeOutput | Failure | None],
        step: int,
        values: Mapping[str, Any],
        resume: Resume | None,
    ) -> None:
        import asyncio

        lane = asyncio.current_task()
        for task in queue:  # shared: the next task not yet started, by ordinal
            results[task.ordinal] = await self._run_task(task, step, values, resume)
            if lane is not None and lane.cancelling():
                # cancelled while its node ran (which took the cancel as its own
                # failure): start nothing more, as a task queued on a semaphore
                raise asyncio.CancelledError

    async def _limited(
        self,
        sem: asyncio.Semaphore,
        task: Task,
        step: int,
        values: Mapping[str, Any],
        resume: Resume | None,
    ) -> NodeOutput | Failure:
        async with sem:
            return await self._run_task(task, step, values, resume)


def outputs_or_raise(
    tasks: list[Task], step: int, results: list[NodeOutput | Failure]
) -> list[NodeOutput]:
    """The outputs, or a ``NodeError`` for the smallest-ordinal failed task."""
    if len(results) == 1 and type(results[0]) is NodeOutput:
        return results  # type: ignore[return-value]
    for t, r in zip(tasks, results, strict=True):
        if isinstance(r, Failure):
            err = r.error
            raise node_error(
                err, t.node, step=step, task_id=t.id, attempts=r.attempts
            ) from err
    return results  # type: ignore[return-value]


def _pooled_count(tasks: Sequence[Task]) -> int:
    return sum(1 for t in tasks if t.spec.pooled)


def _own_cancel(exc: BaseException) -> Failure:
    """A sync function cannot be cancelled by the run (nothing awaits it), so a
    ``CancelledError`` it raised is its own: it fails the task. Anything else that
    is not an ``Exception`` (``KeyboardInterrupt``, ``SystemExit``) propagates."""
    import asyncio

    if not isinstance(exc, asyncio.CancelledError):
        raise exc
    return Failure(exc, 1)
