"""The attempt loop: sequences plan → execute → commit → publish → emit.

No algorithm lives here (planning and commit are pure functions elsewhere); this
module decides when a run stops, what is emitted in which order, and what is
published as the thread's new committed state.
"""

from __future__ import annotations

import types
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._lazy import LazyModule
from ..errors import (
    CheckpointStoreMissingError,
    InvalidRunOptionsError,
    NodeError,
    TaskLocalWriteNotAllowedError,
    UnknownChannelError,
    UpdatePolicyViolationError,
)
from ..events import (
    CheckpointLoaded,
    CheckpointSaved,
    RunCancelled,
    RunFinished,
    RunInterrupted,
    StepFinished,
    StepStarted,
    StreamBackpressure,
    TaskFailed,
    TaskFinished,
    TaskStarted,
    WriteApplied,
)
from ..nodes import NodeOutput, Resume
from ..run_types import Outcome, RunOptions, Status, StepReport
from ..state._channels import Scope, UpdatePolicy, Write
from ..state._store import GlobalStore
from ._commit import check_write, commit_step, reduce_writes
from ._execute import Failure, StepRunner
from ._hashing import debug_metadata, payload_hash
from ._plan import plan_tasks
from ._sink import EventSink
from ._state import Seed, Task, ThreadState

if TYPE_CHECKING:
    from ._runtime import Runtime

if TYPE_CHECKING:
    import asyncio
else:  # imported on first use; see hive_core/_lazy.py
    asyncio = LazyModule("asyncio", __name__)

__all__ = ["Attempt", "apply_input_writes", "seed_start", "validate_options"]

_YIELD_EVERY = 16
"""Steps between voluntary yields when nobody listens (cancellation checks)."""


def validate_options(rt: Runtime, options: RunOptions) -> tuple[str, ...] | None:
    """Check option ranges; return the normalized output projection."""
    if options.max_steps < 0:
        raise InvalidRunOptionsError(
            f"max_steps must be >= 0, got {options.max_steps}", option="max_steps"
        )
    if options.max_concurrent_tasks < 1:
        raise InvalidRunOptionsError(
            f"max_concurrent_tasks must be >= 1, got {options.max_concurrent_tasks}",
            option="max_concurrent_tasks",
        )
    if options.event_buffer_capacity < 1:
        raise InvalidRunOptionsError(
            f"event_buffer_capacity must be >= 1, got {options.event_buffer_capacity}",
            option="event_buffer_capacity",
        )
    policy = options.checkpoint_policy
    if policy.kind == "every" and policy.n < 1:
        raise InvalidRunOptionsError(
            f"CheckpointPolicy.every(n) needs n >= 1, got {policy.n}",
            option="checkpoint_policy",
        )
    override = options.output_projection
    if override is None:
        return rt.graph.ir.output
    by_id = rt.graph.schema.by_id
    ids = sorted({c if isinstance(c, str) else c.id for c in override})
    for cid in ids:
        ch = by_id.get(cid)
        if ch is None or ch.scope is not Scope.GLOBAL:
            raise InvalidRunOptionsError(
                f"output_projection names `{cid}`, which is not a global channel",
                option="output_projection",
            )
    return tuple(ids)


def apply_input_writes(
    rt: Runtime, values: Mapping[str, Any], writes: Sequence[Write[Any]]
) -> tuple[Mapping[str, Any], list[tuple[str, Any]]]:
    """The synthetic single writer for input and external writes (not a step)."""
    by_id = rt.graph.schema.by_id
    grouped: dict[str, list[Any]] = {}
    for w in writes:
        ch = w.channel
        cid = ch if isinstance(ch, str) else ch.id
        spec = by_id.get(cid)
        if spec is None:
            raise UnknownChannelError(cid)
        if spec.scope is Scope.TASK_LOCAL:
            raise TaskLocalWriteNotAllowedError(cid)
        check_write(by_id, cid, w.value, None, None)  # the commit's own check
        grouped.setdefault(cid, []).append(w.value)
    for cid in sorted(grouped):
        if by_id[cid].update is UpdatePolicy.SINGLE and len(grouped[cid]) > 1:
            raise UpdatePolicyViolationError(
                cid, policy="single", write_count=len(grouped[cid])
            )
    if not grouped:
        return values, []
    out = dict(values)
    written = []
    for cid in sorted(grouped):
        reduced = reduce_writes(by_id[cid], values[cid], grouped[cid], None)
        out[cid] = reduced
        written.append((cid, reduced))
    return out, written


class Attempt:
    """One call (run, resume, …) on one thread, from ``run_started`` to its end."""

    def __init__(
        self,
        rt: Runtime,
        *,
        thread_id: str,
        options: RunOptions,
        sink: EventSink | None,
        attempt_id: str,
    ) -> None:
        self.rt = rt
        self.thread_id = thread_id
        self.options = options
        self.sink = sink
        self.attempt_id = attempt_id
        self.cancel_requested = False
        self.runner: StepRunner | None = None
        self.projection: tuple[str, ...] | None = None
        self.run_id: str | None = None
        self.loaded_checkpoint_id: str | None = None
        self.on_step: Callable[[StepReport], Awaitable[None]] | None = None

    def is_cancelled(self) -> bool:
        """Read through a call: the flag flips while this coroutine awaits. A retry
        sleep that was cancelled also cancels the run (spec §5)."""
        runner = self.runner
        return self.cancel_requested or (runner is not None and runner.cancel_requested)

    def bind_run(self, state: ThreadState) -> None:
        """Fix the run id for this attempt: the thread's (decisions.md #6)."""
        self.run_id = str(state.run_id)
        sink = self.sink
        if sink is not None:
            sink.run_id = self.run_id
            sink.attempt_id = self.attempt_id

    async def emit_loaded(self) -> None:
        if self.loaded_checkpoint_id is not None:
            await self.emit_run(
                CheckpointLoaded, checkpoint_id=self.loaded_checkpoint_id
            )

    # ------------------------------------------------------------------ output

    def outcome(self, status: Status, state: ThreadState, **extra: Any) -> Outcome:
        values = state.values
        ids = self.projection
        if ids is None:
            ids = self.rt.graph.schema.global_ids
        return Outcome(
            status=status,
            output={cid: values[cid] for cid in ids},
            checkpoint_id=state.latest_checkpoint_id,
            run_id=self.run_id,
            **extra,
        )

    async def emit(self, cls: Any, **fields: Any) -> None:
        """Queue an event; a cancel arriving while we wait for buffer room does not
        tear the event sequence: the event is queued anyway and the cancellation is
        observed at the next step boundary (or right before compute)."""
        sink = self.sink
        if sink is None:
            return
        try:
            await sink.emit(cls, **fields)
        except asyncio.CancelledError:
            if not self.is_cancelled():
                raise
            _uncancel()
            sink.emit_nowait(cls, **fields)

    emit_run = emit

    # -------------------------------------------------------------------- loop

    async def loop(self, state: ThreadState, resume: Resume | None = None) -> Outcome:
        """Run steps until the frontier empties, max_steps, interrupt or cancel."""
        rt = self.rt
        graph = rt.graph
        sink = self.sink
        opts = self.options
        max_steps = opts.max_steps
        runner = StepRunner(
            schema=graph.schema,
            initial=rt.initial,
            environment=rt.environment,
            thread_id=self.thread_id,
            run_id=self.run_id or str(state.run_id),
            attempt_id=self.attempt_id,
            max_concurrent=opts.max_concurrent_tasks,
            sink=sink,
            deterministic=opts.deterministic_token_streaming,
        )
        self.runner = runner
        inline_graph = rt.inline
        run_bytes = state.run_id.bytes
        steps_run = 0
        while True:
            if self.is_cancelled():
                await self.emit_run(RunCancelled)
                return self.outcome("cancelled", state)
            if not state.frontier:
                await self.emit_run(RunFinished)
                return self.outcome("finished", state)
            if steps_run == max_steps:
                await self.emit_run(RunFinished)
                return self.outcome("out_of_steps", state, max_steps=max_steps)

            step = state.step
            tasks = plan_tasks(
                graph, state, rt.initial, rt.empty_fingerprint, run_bytes
            )
            if sink is not None:
                await self.emit(StepStarted, step=step, frontier_count=len(tasks))
                for t in tasks:
                    await self.emit(
                        TaskStarted,
                        step=step,
                        ordinal=t.ordinal,
                        node=t.node,
                        task_id=t.id,
                    )
                if self.is_cancelled():
                    await self._emit_cancelled_tasks(tasks, step)
                    await self.emit(RunCancelled)
                    return self.outcome("cancelled", state)
            try:
                if inline_graph or all(t.spec.inline for t in tasks):
                    results = runner.run_inline(tasks, step, state.values, resume)
                else:
                    results = await runner.run(tasks, step, state.values, resume)
            except asyncio.CancelledError:
                if not self.is_cancelled():
                    raise
                _uncancel()
                await self._emit_cancelled_tasks(tasks, step)
                await self.emit_run(RunCancelled)
                return self.outcome("cancelled", state)

            if sink is not None:
                await self._emit_task_ends(tasks, step, results)
            outputs = _outputs_or_raise(tasks, step, results)
            result = commit_step(graph, state, tasks, outputs, rt.initial)
            interruption = result.interruption
            new_state = ThreadState(
                run_id=state.run_id,
                step=step + 1,
                values=result.values,
                frontier=result.frontier,
                barriers=result.barriers,
                interruption=interruption,
                latest_checkpoint_id=state.latest_checkpoint_id,
            )
            saved = None
            if rt.checkpointer is not None:
                # the first resumed step always saves: its checkpoint records that
                # the interrupt was answered, so it cannot be answered twice
                saved = await rt.checkpointer.after_commit(
                    self, new_state, force=resume is not None
                )
                if saved is not None:
                    new_state = new_state.replace(latest_checkpoint_id=saved)
            elif interruption is not None:
                raise CheckpointStoreMissingError("An interrupt")
            rt.publish(self.thread_id, new_state)
            state = new_state
            resume = None
            steps_run += 1
            if sink is not None:
                await self.emit_commit(result.written, step, new_state, saved)
            if self.on_step is not None:
                await self._shielded_hook(
                    StepReport(
                        step=step,
                        nodes=tuple(t.node for t in tasks),
                        task_ids=tuple(t.id for t in tasks),
                        written=tuple(cid for cid, _ in result.written),
                        next_nodes=tuple(s.node for s in state.frontier),
                        store=GlobalStore(graph.schema, state.values),
                        interrupt_id=interruption.id if interruption else None,
                    )
                )
            if interruption is not None:
                await self.emit_run(RunInterrupted, interrupt_id=interruption.id)
                return self.outcome("interrupted", state, interrupt=interruption)
            if sink is not None or steps_run % _YIELD_EVERY == 0:
                try:
                    await _yield_now()
                except asyncio.CancelledError:
                    if not self.is_cancelled():
                        raise
                    _uncancel()

    async def _shielded_hook(self, report: StepReport) -> None:
        """Run the stepper hook; a cancel while it waits is observed next step."""
        hook = self.on_step
        if hook is None:  # pragma: no cover - checked by the caller
            return
        try:
            await hook(report)
        except asyncio.CancelledError:
            if not self.is_cancelled():
                raise
            _uncancel()

    async def _emit_task_ends(
        self, tasks: list[Task], step: int, results: list[NodeOutput | Failure]
    ) -> None:
        """Flush buffered stream events, then one task end per task, by ordinal."""
        sink = self.sink
        runner = self.runner
        if sink is None or runner is None:
            return
        if runner.deterministic:
            for t in tasks:
                for cls, fields in runner.buffers.pop(t.ordinal, ()):
                    await self.emit(cls, **fields)
        debug = self.options.debug_payloads
        for t, r in zip(tasks, results, strict=True):
            if isinstance(r, Failure):
                err = r.error
                await self.emit(
                    TaskFailed,
                    step=step,
                    ordinal=t.ordinal,
                    node=t.node,
                    task_id=t.id,
                    error=repr(err) if debug else type(err).__name__,
                )
            else:
                await self.emit(
                    TaskFinished,
                    step=step,
                    ordinal=t.ordinal,
                    node=t.node,
                    task_id=t.id,
                )

    async def _emit_cancelled_tasks(self, tasks: list[Task], step: int) -> None:
        sink = self.sink
        if sink is None:
            return
        for t in tasks:
            await self.emit(
                TaskFailed,
                step=step,
                ordinal=t.ordinal,
                node=t.node,
                task_id=t.id,
                error="CancelledError",
            )

    async def emit_commit(
        self,
        written: list[tuple[str, Any]],
        step: int,
        state: ThreadState,
        saved: str | None,
    ) -> None:
        sink = self.sink
        if sink is None:
            return
        by_id = self.rt.graph.schema.by_id
        debug = self.options.debug_payloads
        for cid, value in written:
            ch = by_id[cid]
            await self.emit(
                WriteApplied,
                step=step,
                channel=cid,
                payload_hash=payload_hash(ch, value),
                metadata=debug_metadata(ch, value) if debug else {},
            )
        if saved is not None:
            await self.emit(CheckpointSaved, step=step, checkpoint_id=saved)
        if sink.dropped_tokens or sink.dropped_debug:
            await self.emit(
                StreamBackpressure,
                step=step,
                dropped_model_tokens=sink.dropped_tokens,
                dropped_debug=sink.dropped_debug,
            )
            sink.dropped_tokens = 0
            sink.dropped_debug = 0
        await self.emit(
            StepFinished, step=step, next_frontier_count=len(state.frontier)
        )


def _outputs_or_raise(
    tasks: list[Task], step: int, results: list[NodeOutput | Failure]
) -> list[NodeOutput]:
    """The outputs, or a ``NodeError`` for the smallest-ordinal failed task."""
    for t, r in zip(tasks, results, strict=True):
        if isinstance(r, Failure):
            err = r.error
            raise NodeError(
                t.node,
                step=step,
                task_id=t.id,
                attempts=r.attempts,
                cause=f"{type(err).__name__}: {err}"
                if str(err)
                else type(err).__name__,
            ) from err
    return results  # type: ignore[return-value]


@types.coroutine
def _yield_now() -> Generator[None, None, None]:
    """What ``asyncio.sleep(0)`` does, without importing asyncio: a bare yield lets
    the event loop run other tasks (and the inline driver simply resumes)."""
    yield


def _uncancel() -> None:
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


def seed_start(rt: Runtime) -> tuple[Seed, ...]:
    return tuple(Seed(n) for n in rt.graph.ir.start)
