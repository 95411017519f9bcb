"""The attempt loop: sequences plan → execute → commit → checkpoint → publish → emit.

No algorithm lives here (planning and commit are pure functions elsewhere); this
module decides when a run stops, what is emitted in which order, and what is
published as the thread's new committed state. See ``docs/architecture.md``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import msgspec

from .._observe import RunObserver
from ..errors import (
    CheckpointStoreMissingError,
)
from ..events import (
    CheckpointLoaded,
    CheckpointSaved,
    RunCancelled,
    RunFinished,
    RunInterrupted,
    RunStarted,
    StepFinished,
    StepStarted,
    StepValues,
    StreamBackpressure,
    TaskFailed,
    TaskFinished,
    TaskStarted,
    TaskWrites,
    WriteApplied,
)
from ..nodes import NodeOutput, Resume
from ..run_types import CheckpointPolicy, Outcome, RunOptions, Status, StepReport
from ..state._store import GlobalStore
from ._cancel import CancelGuard
from ._commit import CommitResult, commit_step
from ._commit_one import commit_one
from ._context import RunContext
from ._execute import Failure, StepRunner, outputs_or_raise
from ._hashing import debug_metadata, payload_hash
from ._ids import random_attempt_id
from ._input_writes import (
    EXTERNAL_WRITER,
    INPUT_WRITER,
    apply_input_writes,
    check_writes_argument,
)
from ._observed import observed_loop, save_step
from ._plan import plan_tasks
from ._sink import EventSink
from ._sink import yield_now as _yield_now
from ._state import RunIds, Task, ThreadState
from ._stream_data import DirectParts, ValuesEncoder, encode_task_writes

__all__ = [
    "EXTERNAL_WRITER",
    "INPUT_WRITER",
    "Attempt",
    "CancelGuard",
    "apply_input_writes",
    "check_writes_argument",
]

_YIELD_EVERY = 16
"""Steps between voluntary yields when nobody listens (cancellation checks)."""


_WITH_STORE = CheckpointPolicy.every(1)
_WITHOUT_STORE = CheckpointPolicy.on_interrupt()


def policy_for(options: RunOptions, has_store: bool) -> CheckpointPolicy:
    """``options.checkpoint_policy``, or when it is ``None`` the default: every
    step with a checkpoint store (the history users expect: every step can be
    read back and forked), only at interrupts without one
    (``docs/persistence.md``)."""
    policy = options.checkpoint_policy
    if policy is not None:
        return policy
    return _WITH_STORE if has_store else _WITHOUT_STORE


class Attempt:
    """One call (run, resume, …) on one thread, from ``run_started`` to its end."""

    # what every attempt starts with, read from the class until it changes
    # (an attempt is built per call: nine stores fewer, ``docs/performance.md``)
    cancel_requested: bool = False
    runner: StepRunner | None = None
    projection: tuple[str, ...] | None = None
    run_id: str | None = None
    loaded_checkpoint_id: str | None = None
    on_step: Callable[[StepReport], Awaitable[None]] | None = None
    obs_run: object = None
    obs_step: object = None
    """The observer's open run and step scopes (``docs/observability.md``)."""
    _values: ValuesEncoder | None = None

    def __init__(
        self,
        ctx: RunContext,
        *,
        thread_id: str,
        options: RunOptions,
        sink: EventSink | None,
        attempt_id: str | None,
    ) -> None:
        """``attempt_id=None``: a random one (``RandomIds``), drawn on first read."""
        self.ctx = ctx
        self.thread_id = thread_id
        self.options = options
        self.policy = policy_for(options, ctx.checkpointer is not None)
        """The checkpoint policy in force: the options', else the runtime's default."""
        self.sink = sink
        self._attempt_id = attempt_id
        self.observer: RunObserver | None = ctx.environment.observer
        self.streams_values = "values" in options.stream_modes
        self.streams_updates = "updates" in options.stream_modes
        """Value-bearing events only for the modes that need them: the default
        trace stays value-free (``docs/guides/streaming.md``)."""

    @property
    def attempt_id(self) -> str:
        """This call's attempt id (``RandomIds``' drawn when first read)."""
        aid = self._attempt_id
        if aid is None:
            aid = self._attempt_id = random_attempt_id()
        return aid

    def is_cancelled(self) -> bool:
        """Read through a call: the flag flips while this coroutine awaits. A retry
        sleep that was cancelled also cancels the run
        (``docs/concepts/supersteps.md#cancellation-and-limits``)."""
        runner = self.runner
        return self.cancel_requested or (runner is not None and runner.cancel_requested)

    def guard(self) -> CancelGuard:
        return CancelGuard(self.is_cancelled)

    def bind_run(self, state: ThreadState) -> None:
        """Fix the run id for this attempt: the thread's, kept across attempts."""
        self.run_id = str(state.run_id)
        sink = self.sink
        if sink is not None:
            sink.run_id = self.run_id
            sink.attempt_id = self.attempt_id

    async def begin(self, state: ThreadState) -> None:
        """Bind the run id, emit the attempt-start events, validate the options
        (so a listener sees ``run_started`` and then the error)."""
        self.bind_run(state)
        await self.emit(RunStarted, thread_id=self.thread_id)
        if self.loaded_checkpoint_id is not None:
            await self.emit(CheckpointLoaded, checkpoint_id=self.loaded_checkpoint_id)
        self._check_options()

    def start(self, state: ThreadState) -> None:
        """``begin`` for an attempt whose listener reads neither start event (or
        that has none, ``quiet_start``): the same checks, nothing to await."""
        self.bind_run(state)
        self._check_options()

    def quiet_start(self) -> bool:
        """Whether ``begin`` would emit nothing, so ``start`` can stand in for it."""
        sink = self.sink
        if sink is None:
            return True
        wanted = sink.wanted
        return (
            wanted is not None
            and RunStarted not in wanted
            and CheckpointLoaded not in wanted
        )

    def _check_options(self) -> None:
        ctx = self.ctx
        options = self.options
        checked = ctx.checked
        if options is checked.options:  # the last options this graph accepted
            self.projection = checked.projection
        else:
            graph = ctx.graph
            self.projection = options.validate(graph.schema, graph.ir.output)
            if type(options.stream_modes) is tuple and (
                options.output_projection is None
                or type(options.output_projection) is tuple
            ):  # nothing in them can change: checked once for the next attempts
                checked.options = options
                checked.projection = self.projection
        if ctx.checkpointer is None and self.policy.needs_store:
            raise CheckpointStoreMissingError("A checkpoint policy")

    # ------------------------------------------------------------------ output

    def outcome(self, status: Status, state: ThreadState, **extra: Any) -> Outcome:
        values = state.values
        ids = self.projection
        if ids is None:
            ids = self.ctx.graph.schema.global_ids
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
        wanted = sink.wanted  # `sink.wants`, inlined: called for every event
        if wanted is not None and cls not in wanted:
            return
        if len(sink._buf) < sink._capacity:
            sink.push(cls, fields)  # room: nothing to wait for
            return
        with self.guard() as guard:
            await sink.emit(cls, **fields)
        if guard.caught:
            sink.emit_nowait(cls, **fields)

    # -------------------------------------------------------------------- loop

    def loop(
        self, state: ThreadState, resume: Resume | None = None
    ) -> Coroutine[Any, Any, Outcome]:
        """Run steps until the frontier empties, max_steps, interrupt or cancel.

        Returns the loop's coroutine itself rather than awaiting it in one of its
        own: each step's yield resumes one frame less (``docs/performance.md``)."""
        if self.observer is None:
            return self._loop(state, resume)
        return observed_loop(self, self.observer, state, resume)

    async def _loop(self, state: ThreadState, resume: Resume | None) -> Outcome:
        ctx = self.ctx
        runner = self.runner = self._runner(state)
        sink = self.sink
        observer = self.observer
        announce, ends = (False, False) if sink is None else sink.per_step(runner)
        steps_run = 0
        ids = RunIds(  # fixed for the attempt: `UUID.bytes` is a property per access
            state.run_id.bytes, ctx.graph.schema, ctx.initial, ctx.empty_fingerprint
        )
        direct = None if sink is None else self._direct_parts()
        max_steps = self.options.max_steps
        while True:  # `_stop_status`'s conditions, its call only when one holds
            if (
                self.cancel_requested
                or runner.cancel_requested
                or not state.frontier
                or steps_run == max_steps
            ):
                stop = self._stop_status(state, steps_run)
                assert stop is not None
                return await self._end(stop, state)
            step = state.step
            tasks = plan_tasks(ctx.graph, state, ids)
            if observer is not None:
                self.obs_step = runner.obs_step = observer.step_started(
                    self.obs_run, step, [t.node for t in tasks]
                )
            if announce and not await self._announce(tasks, step):
                return await self._end("cancelled", state)
            if ctx.inline or all(t.spec.inline for t in tasks):
                results = runner.run_inline(tasks, step, state.values, resume)
            else:
                maybe = await self._run_tasks(runner, tasks, state, resume)
                if maybe is None:
                    return await self._end("cancelled", state)
                results = maybe
            if ends:
                await self._emit_task_ends(tasks, step, results)
            new, result = self._next_state(state, tasks, results)
            saved = None
            if ctx.checkpointer is not None:
                # the first resumed step always saves: its checkpoint records that
                # the interrupt was answered, so it cannot be answered twice
                saved = await save_step(self, new, force=resume is not None)
                if saved is not None:
                    new = new.replace(latest_checkpoint_id=saved)
            ctx.publish(self.thread_id, new)
            if observer is not None:
                observer.step_ended(self.obs_step, failed=False)
                self.obs_step = None
            state = new
            resume = None
            steps_run += 1
            if direct is not None:
                direct.queue(tasks, step, results, result, new)
            elif sink is not None:
                if self.streams_updates:
                    await self._emit_task_writes(tasks, step, results)
                await self.emit_commit(result.written, step, new, saved)
            if self.on_step is not None:
                await self._shielded_hook(self._report(tasks, result, new))
            if new.interruption is not None:
                return await self._end("interrupted", new)
            del tasks, results, result  # freed before the next step (peak memory)
            if sink is not None or steps_run % _YIELD_EVERY == 0:
                try:  # `with self.guard():`, its calls only when a cancel arrives
                    await _yield_now()
                except BaseException as exc:
                    if not self.guard().__exit__(type(exc), exc, None):
                        raise

    def _direct_parts(self) -> DirectParts | None:
        """The parts builder of a stream that records no events (``sink.direct``)."""
        sink = self.sink
        if sink is None or not sink.direct:
            return None
        ids = self.projection
        if ids is None:
            ids = self.ctx.graph.schema.global_ids
        schema = self.ctx.graph.schema
        values = ValuesEncoder(schema.by_id, ids) if self.streams_values else None
        return DirectParts(sink, schema.global_by_id, self.streams_updates, values)

    def _runner(self, state: ThreadState) -> StepRunner:
        ctx = self.ctx
        opts = self.options
        cpr = ctx.checkpointer
        return StepRunner(  # schema, initial, environment, thread_id, run_id,
            ctx.graph.schema,  # attempt, max_concurrent, sink, deterministic,
            ctx.initial,  # checkpoint_store
            ctx.environment,
            self.thread_id,
            self.run_id or str(state.run_id),
            self,
            opts.max_concurrent_tasks,
            self.sink,
            opts.deterministic_token_streaming,
            cpr.store if cpr is not None else None,
        )

    def _stop_status(self, state: ThreadState, steps_run: int) -> Status | None:
        """Checked before every step: cancel, empty frontier, then max_steps."""
        runner = self.runner  # is_cancelled(), without the call on the hot path
        if self.cancel_requested or (runner is not None and runner.cancel_requested):
            return "cancelled"
        if not state.frontier:
            return "finished"
        if steps_run == self.options.max_steps:
            return "out_of_steps"
        return None

    async def _end(self, status: Status, state: ThreadState) -> Outcome:
        """Emit the attempt's last event and build its outcome."""
        sink = self.sink
        if status == "finished" and (sink is None or not sink.wants(RunFinished)):
            return self.outcome(status, state)  # the common end: nothing to await
        if status == "cancelled":
            await self.emit(RunCancelled)
            return self.outcome(status, state)
        if status == "interrupted":
            interruption = state.interruption
            assert interruption is not None
            await self.emit(RunInterrupted, interrupt_id=interruption.id)
            return self.outcome(status, state, interrupt=interruption)
        await self.emit(RunFinished)
        if status == "out_of_steps":
            return self.outcome(status, state, max_steps=self.options.max_steps)
        return self.outcome(status, state)

    async def _announce(self, tasks: list[Task], step: int) -> bool:
        """Emit the step's start events; ``False`` if a cancel arrived meanwhile."""
        await self.emit(StepStarted, step=step, frontier_count=len(tasks))
        sink = self.sink
        for t in tasks if sink is not None and sink.wants(TaskStarted) else ():
            await self.emit(
                TaskStarted, step=step, ordinal=t.ordinal, node=t.node, task_id=t.id
            )
        if self.is_cancelled():
            await self._emit_cancelled_tasks(tasks, step)
            return False
        return True

    async def _run_tasks(
        self,
        runner: StepRunner,
        tasks: list[Task],
        state: ThreadState,
        resume: Resume | None,
    ) -> list[NodeOutput | Failure] | None:
        """Run a step that awaits; ``None`` when the attempt was cancelled in it."""
        with self.guard():
            return await runner.run(tasks, state.step, state.values, resume)
        await self._emit_cancelled_tasks(tasks, state.step)
        return None

    def _next_state(
        self,
        state: ThreadState,
        tasks: list[Task],
        results: list[NodeOutput | Failure],
    ) -> tuple[ThreadState, CommitResult]:
        """Commit the step's outputs (or raise the first failure) into a new state."""
        ctx = self.ctx
        if len(results) == 1 and type(out := results[0]) is NodeOutput:
            result = commit_one(ctx.graph, state, tasks[0], out, ctx.initial, ctx.lone)
        else:
            outputs = outputs_or_raise(tasks, state.step, results)
            result = commit_step(ctx.graph, state, tasks, outputs, ctx.initial)
        interruption = result.interruption
        if interruption is not None and ctx.checkpointer is None:
            raise CheckpointStoreMissingError("An interrupt")
        new = ThreadState(  # positional: run_id, step, values, frontier, barriers,
            state.run_id,  # interruption, latest_checkpoint_id, appended
            state.step + 1,
            result.values,
            result.frontier,
            result.barriers,
            interruption,
            state.latest_checkpoint_id,
            result.appended,
        )
        return new, result

    def _report(
        self, tasks: list[Task], result: CommitResult, state: ThreadState
    ) -> StepReport:
        interruption = state.interruption
        return StepReport(
            step=state.step - 1,
            nodes=tuple(t.node for t in tasks),
            task_ids=tuple(t.id for t in tasks),
            written=tuple(cid for cid, _ in result.written),
            next_nodes=tuple(s.node for s in state.frontier),
            store=GlobalStore(self.ctx.graph.schema, state.values),
            interrupt_id=interruption.id if interruption else None,
        )

    async def _shielded_hook(self, report: StepReport) -> None:
        """Run the stepper hook; a cancel while it waits is observed next step."""
        hook = self.on_step
        if hook is None:  # pragma: no cover - checked by the caller
            return
        with self.guard():
            await hook(report)

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
        if not (sink.wants(TaskFinished) or sink.wants(TaskFailed)):
            return  # a stream whose modes read neither
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
        by_id = self.ctx.graph.schema.by_id
        debug = self.options.debug_payloads
        for cid, value in written if sink.wants(WriteApplied) else ():
            ch = by_id[cid]
            await self.emit(
                WriteApplied,
                step=step,
                channel=cid,
                payload_hash=payload_hash(ch, value),
                metadata=debug_metadata(ch, value) if debug else {},
            )
        if self.streams_values:
            await self._emit_step_values(step, state, written)
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

    async def _emit_task_writes(
        self, tasks: list[Task], step: int, results: list[NodeOutput | Failure]
    ) -> None:
        """One ``task_writes`` per task, by ordinal, with its global writes."""
        glob = self.ctx.graph.schema.global_by_id
        for t, r in zip(tasks, results, strict=True):
            await self.emit(
                TaskWrites,
                step=step,
                ordinal=t.ordinal,
                node=t.node,
                task_id=t.id,
                writes=encode_task_writes(glob, r.writes)
                if isinstance(r, NodeOutput)
                else {},
            )

    async def _emit_step_values(
        self, step: int, state: ThreadState, written: list[tuple[str, Any]]
    ) -> None:
        """The output channels' values after the step, and its interrupt."""
        encoder = self._values
        if encoder is None:
            ids = self.projection
            if ids is None:
                ids = self.ctx.graph.schema.global_ids
            encoder = self._values = ValuesEncoder(self.ctx.graph.schema.by_id, ids)
        interruption = state.interruption
        await self.emit(
            StepValues,
            step=step,
            values=encoder.encode(state.values, written),
            interrupt=None
            if interruption is None
            else {
                "id": interruption.id,
                "value": msgspec.to_builtins(interruption.payload),
            },
        )
