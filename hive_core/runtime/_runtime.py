"""``Runtime``: runs a compiled graph on threads; ``RunHandle``: one call's handle.

One async core. ``invoke`` awaits an outcome; ``run`` returns a handle with an event
stream; ``run_sync`` is the script-friendly wrapper. A graph of plain synchronous
nodes runs ``run_sync`` without starting an event loop at all, which is most of the
difference between a 2 µs and a 300 µs call.
"""

from __future__ import annotations

import sys
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import attrs
import msgspec

from .._lazy import LazyModule
from ..environment import Environment
from ..errors import (
    CheckpointNotFoundError,
    CheckpointStoreMissingError,
    HiveInternalError,
    InterruptPendingError,
    NoCheckpointToResumeError,
    NoInterruptToResumeError,
    ResumeInterruptMismatchError,
    ResumePayloadError,
    ThreadExistsError,
)
from ..events import (
    CheckpointSaved,
    Event,
    RunCancelled,
    RunFinished,
    RunResumed,
    RunStarted,
    StepStarted,
)
from ..graph._compiled import CompiledGraph
from ..ids import fork_run_id
from ..nodes import Resume
from ..persistence._format import CheckpointStore, CheckpointSummary
from ..run_types import Outcome, RunOptions, StepReport, ThreadSnapshot
from ..state._channels import Write, type_name
from ..state._schema import InputContext
from ..state._store import GlobalStore, InitialCache, fingerprint
from ._checkpointing import Checkpointer
from ._loop import Attempt, apply_input_writes, seed_start, validate_options
from ._sink import EventSink
from ._state import ThreadState

if TYPE_CHECKING:
    import asyncio
else:  # imported on first use; see hive_core/_lazy.py
    asyncio = LazyModule("asyncio", __name__)

__all__ = ["IdSource", "RandomIds", "RunHandle", "Runtime", "StepReport"]

T = TypeVar("T")
_DEFAULT_OPTIONS = RunOptions()


class IdSource(Protocol):
    """Where run and attempt ids come from; inject a sequential one in tests."""

    def new_run_id(self) -> uuid.UUID: ...

    def new_attempt_id(self) -> uuid.UUID: ...


@attrs.frozen
class RandomIds:
    """Random UUID4s (the default)."""

    def new_run_id(self) -> uuid.UUID:
        return uuid.uuid4()

    def new_attempt_id(self) -> uuid.UUID:
        return uuid.uuid4()


def _drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits on a future, without an event loop."""
    try:
        while True:
            yielded = coro.send(None)
            if yielded is not None:
                coro.close()
                raise HiveInternalError(
                    f"an inline run suspended on {yielded!r}; please report this"
                )
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


def _no_running_loop(name: str) -> None:
    # no asyncio imported means no loop can be running (and keeps it unimported);
    # the low-level getter returns None instead of raising: no exception per call
    aio = sys.modules.get("asyncio")
    if aio is None or aio._get_running_loop() is None:
        return
    raise RuntimeError(
        f"Runtime.{name}() cannot be called from a running event loop; use "
        f"`await runtime.invoke(...)` (or run(...)) instead"
    )


class Runtime:
    """Runs one compiled graph for any number of threads.

    Attempts on one thread run first-in first-out; different threads run
    concurrently and never see each other's state.
    """

    def __init__(
        self,
        graph: CompiledGraph,
        *,
        environment: Environment | None = None,
        checkpoint_store: CheckpointStore | None = None,
        ids: IdSource | None = None,
    ) -> None:
        self.graph = graph
        self.environment = environment if environment is not None else Environment()
        self.ids: IdSource = ids if ids is not None else RandomIds()
        graph.schema.validate()
        self.initial = InitialCache(graph.schema)
        self.empty_fingerprint = fingerprint(graph.schema, {}, self.initial)
        self.checkpoint_store = checkpoint_store
        self.checkpointer: Checkpointer | None = (
            Checkpointer(self, checkpoint_store)
            if checkpoint_store is not None
            else None
        )
        self._threads: dict[str, ThreadState] = {}
        self._busy: dict[str, deque[asyncio.Future[None]] | None] = {}
        self._start_seeds = seed_start(self)
        self._last_outcomes: dict[str, Outcome] = {}
        self.inline = all(
            not n.is_async and not n.blocking and n.retry is None
            for n in graph.nodes.values()
        )

    # ----------------------------------------------------------------- public

    def run(
        self, thread_id: str, input: object = None, options: RunOptions | None = None
    ) -> RunHandle:
        """Start a run lazily; iterate ``handle.events`` or await the outcome."""
        attempt = self._attempt(thread_id, options)
        return RunHandle(attempt, lambda: self._run_attempt(attempt, input))

    async def invoke(
        self, thread_id: str, input: object = None, options: RunOptions | None = None
    ) -> Outcome:
        """Run and return the outcome, building no events."""
        return await self._run_attempt(self._attempt(thread_id, options), input)

    def run_sync(
        self, thread_id: str, input: object = None, options: RunOptions | None = None
    ) -> Outcome:
        """Blocking ``invoke`` for scripts; not callable inside an event loop."""
        _no_running_loop("run_sync")
        return self._sync(self._run_attempt(self._attempt(thread_id, options), input))

    def resume(
        self,
        thread_id: str,
        interrupt_id: str,
        payload: object,
        options: RunOptions | None = None,
    ) -> RunHandle:
        """Answer the thread's pending interrupt and continue from its checkpoint.

        The payload is converted to the schema's ``resume_payload`` type first; a
        wrong one raises ``ResumePayloadError`` before anything runs or changes.
        """
        attempt = self._attempt(thread_id, options)
        return RunHandle(
            attempt, lambda: self._resume_attempt(attempt, interrupt_id, payload)
        )

    def resume_sync(
        self,
        thread_id: str,
        interrupt_id: str,
        payload: object,
        options: RunOptions | None = None,
    ) -> Outcome:
        """Blocking ``resume`` for scripts."""
        _no_running_loop("resume_sync")
        attempt = self._attempt(thread_id, options)
        return self._sync(self._resume_attempt(attempt, interrupt_id, payload))

    def apply_external_writes(
        self,
        thread_id: str,
        writes: Sequence[Write[Any]],
        options: RunOptions | None = None,
    ) -> RunHandle:
        """Commit writes as a synthetic step (LangGraph's ``update_state``).

        Only global channels; the frontier and join barriers are untouched; a
        checkpoint is always saved when the runtime has a store.
        """
        attempt = self._attempt(thread_id, options)
        return RunHandle(attempt, lambda: self._external_attempt(attempt, writes))

    def apply_external_writes_sync(
        self,
        thread_id: str,
        writes: Sequence[Write[Any]],
        options: RunOptions | None = None,
    ) -> Outcome:
        _no_running_loop("apply_external_writes_sync")
        attempt = self._attempt(thread_id, options)
        return self._sync(self._external_attempt(attempt, writes))

    async def fork(
        self, thread_id: str, checkpoint_id: str, *, into: str
    ) -> CheckpointSummary:
        """Branch ``into`` a new thread from one of ``thread_id``'s checkpoints.

        Nothing runs. The new thread gets the checkpoint's state (a pending
        interrupt included, so a past approval can be answered differently) and a
        run id derived from (source, target, checkpoint); its first checkpoint is
        saved before this returns. Run or resume the new thread afterwards.
        """
        cpr = self._require_store("fork")
        await self.acquire(into)
        try:
            if into in self._threads or await cpr.store.thread_exists(into):
                raise ThreadExistsError(into)
            cp = await cpr.store.load_checkpoint(thread_id, checkpoint_id)
            if cp is None:
                raise CheckpointNotFoundError(thread_id, checkpoint_id)
            state = cpr.decode(cp).replace(
                run_id=fork_run_id(thread_id, into, checkpoint_id),
                latest_checkpoint_id=None,
            )
            saved = await cpr.save(into, state)
            self.publish(into, state.replace(latest_checkpoint_id=saved))
            return CheckpointSummary(
                id=saved,
                thread_id=into,
                run_id=str(state.run_id),
                step_index=state.step,
                has_interruption=state.interruption is not None,
            )
        finally:
            self.release(into)

    def fork_sync(
        self, thread_id: str, checkpoint_id: str, *, into: str
    ) -> CheckpointSummary:
        _no_running_loop("fork_sync")
        return self._sync(self.fork(thread_id, checkpoint_id, into=into))

    async def get_state(self, thread_id: str) -> ThreadSnapshot | None:
        """The thread's committed state: in memory, else its latest checkpoint."""
        state = self._threads.get(thread_id)
        if state is None and self.checkpointer is not None:
            cp = await self.checkpointer.store.load_latest(thread_id)
            if cp is not None:
                state = self.checkpointer.decode(cp)
        if state is None:
            return None
        return ThreadSnapshot(
            thread_id=thread_id,
            run_id=str(state.run_id),
            step_index=state.step,
            store=GlobalStore(self.graph.schema, state.values),
            next_nodes=tuple(sorted({s.node for s in state.frontier})),
            interrupt=state.interruption,
            checkpoint_id=state.latest_checkpoint_id,
        )

    def get_state_sync(self, thread_id: str) -> ThreadSnapshot | None:
        _no_running_loop("get_state_sync")
        return self._sync(self.get_state(thread_id))

    async def get_checkpoint_history(
        self, thread_id: str, limit: int | None = None
    ) -> list[CheckpointSummary]:
        """The thread's checkpoints, newest first."""
        return await self._require_store("history").store.list_checkpoints(
            thread_id, limit
        )

    async def steps(
        self, thread_id: str, input: object = None, options: RunOptions | None = None
    ) -> AsyncIterator[StepReport]:
        """Drive a run one committed step at a time (same code path as ``run``).

        The run only advances when the consumer asks for the next report; the final
        outcome is available as ``runtime.last_outcome(thread_id)`` afterwards.
        """
        attempt = self._attempt(thread_id, options)
        reports: asyncio.Queue[StepReport | None] = asyncio.Queue(maxsize=1)
        proceed: asyncio.Queue[None] = asyncio.Queue(maxsize=1)

        async def hook(report: StepReport) -> None:
            await reports.put(report)
            await proceed.get()

        attempt.on_step = hook
        task = asyncio.ensure_future(self._run_attempt(attempt, input))
        task.add_done_callback(lambda _t: reports.put_nowait(None))
        try:
            while True:
                report = await reports.get()
                if report is None:
                    break
                yield report
                proceed.put_nowait(None)
            self._last_outcomes[thread_id] = await task
        finally:
            if not task.done():
                attempt.cancel_requested = True
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    def get_latest_store(self, thread_id: str) -> GlobalStore | None:
        """The thread's committed global store in memory (no I/O), if any."""
        state = self._threads.get(thread_id)
        if state is None:
            return None
        return GlobalStore(self.graph.schema, state.values)

    def last_outcome(self, thread_id: str) -> Outcome | None:
        """The outcome of the last ``steps()`` run on the thread."""
        return self._last_outcomes.get(thread_id)

    # --------------------------------------------------------------- internals

    def _attempt(self, thread_id: str, options: RunOptions | None) -> Attempt:
        return Attempt(
            self,
            thread_id=thread_id,
            options=options if options is not None else _DEFAULT_OPTIONS,
            sink=None,
            attempt_id=str(self.ids.new_attempt_id()),
        )

    def _require_store(self, operation: str) -> Checkpointer:
        if self.checkpointer is None:
            raise CheckpointStoreMissingError(operation)
        return self.checkpointer

    def _sync(self, coro: Coroutine[Any, Any, T]) -> T:
        if self.inline and (self.checkpointer is None or self.checkpointer.inline):
            return _drive(coro)
        with asyncio.Runner() as runner:
            return runner.run(coro)

    def publish(self, thread_id: str, state: ThreadState) -> None:
        self._threads[thread_id] = state

    def fresh_state(self) -> ThreadState:
        init = self.initial.values
        return ThreadState(
            run_id=self.ids.new_run_id(),
            step=0,
            values={cid: init[cid] for cid in self.graph.schema.global_ids},
            frontier=(),
            barriers={jid: frozenset() for jid in self.graph.join_ids},
            interruption=None,
            latest_checkpoint_id=None,
        )

    async def acquire(self, thread_id: str) -> None:
        """FIFO per thread; the uncontended path allocates nothing."""
        busy = self._busy
        if thread_id not in busy:
            busy[thread_id] = None
            return
        queue = busy[thread_id]
        if queue is None:
            queue = busy[thread_id] = deque()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release(thread_id)  # we were handed the thread; pass it on
            raise

    def release(self, thread_id: str) -> None:
        queue = self._busy[thread_id]
        while queue is not None and queue:
            fut = queue.popleft()
            if not fut.done():
                fut.set_result(None)
                return
        del self._busy[thread_id]

    async def _wait_turn(self, attempt: Attempt) -> Outcome | None:
        """Wait for the thread (FIFO). A cancel while queued ends the attempt before
        it ran: ``run_started``, ``run_cancelled`` and a ``cancelled`` outcome with
        the thread's committed output; nothing is changed."""
        try:
            await self.acquire(attempt.thread_id)
        except asyncio.CancelledError:
            if not attempt.is_cancelled():
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            state = self._threads.get(attempt.thread_id)
            if state is not None:
                attempt.bind_run(state)
            await attempt.emit(RunStarted, thread_id=attempt.thread_id)
            await attempt.emit(RunCancelled)
            if state is None:
                return Outcome(status="cancelled", output={})
            return attempt.outcome("cancelled", state)
        return None

    async def baseline(self, attempt: Attempt) -> ThreadState:
        """In-memory state if present, else the store's latest checkpoint, else
        fresh."""
        state = self._threads.get(attempt.thread_id)
        if state is not None:
            return state
        if self.checkpointer is not None:
            cp = await self.checkpointer.store.load_latest(attempt.thread_id)
            if cp is not None:
                loaded = self.checkpointer.decode(cp)
                attempt.loaded_checkpoint_id = cp.id
                return loaded
        return self.fresh_state()

    async def _begin(self, attempt: Attempt, state: ThreadState) -> None:
        """Bind the run id, emit the attempt-start events, validate options."""
        attempt.bind_run(state)
        await attempt.emit_run(RunStarted, thread_id=attempt.thread_id)
        await attempt.emit_loaded()
        attempt.projection = validate_options(self, attempt.options)
        if self.checkpointer is None and attempt.options.checkpoint_policy.kind != (
            "disabled"
        ):
            raise CheckpointStoreMissingError("A checkpoint policy")

    async def _run_attempt(self, attempt: Attempt, input: object) -> Outcome:
        thread_id = attempt.thread_id
        cancelled = await self._wait_turn(attempt)
        if cancelled is not None:
            return cancelled
        try:
            state = await self.baseline(attempt)
            await self._begin(attempt, state)
            ctx = InputContext(
                thread_id=thread_id, run_id=attempt.run_id or "", step_index=state.step
            )
            writes = self.graph.schema.input_writes(input, ctx)
            if state.interruption is not None:
                raise InterruptPendingError(thread_id, state.interruption.id)
            values, _ = apply_input_writes(self, state.values, writes)
            frontier = state.frontier or self._start_seeds
            state = state.replace(values=values, frontier=frontier)
            self.publish(thread_id, state)
            return await attempt.loop(state)
        finally:
            self.release(thread_id)

    async def _resume_attempt(
        self, attempt: Attempt, interrupt_id: str, payload: object
    ) -> Outcome:
        thread_id = attempt.thread_id
        cpr = self._require_store("resume")
        cancelled = await self._wait_turn(attempt)
        if cancelled is not None:
            return cancelled
        try:
            cp = await cpr.store.load_latest(thread_id)
            if cp is None:
                raise NoCheckpointToResumeError(thread_id)
            state = cpr.decode(cp)
            attempt.loaded_checkpoint_id = cp.id
            await self._begin(attempt, state)
            pending = state.interruption
            if pending is None:
                raise NoInterruptToResumeError(thread_id)
            if pending.id != interrupt_id:
                raise ResumeInterruptMismatchError(
                    expected=pending.id, found=interrupt_id
                )
            typed = _convert_payload(self.graph.schema.resume_payload, payload)
            await attempt.emit_run(RunResumed, interrupt_id=interrupt_id)
            self.publish(thread_id, state)
            if not state.frontier:
                return await self._resume_on_empty_frontier(attempt, state)
            resume = Resume(interrupt_id=interrupt_id, payload=typed, node=pending.node)
            return await attempt.loop(state, resume)
        finally:
            self.release(thread_id)

    async def _resume_on_empty_frontier(
        self, attempt: Attempt, state: ThreadState
    ) -> Outcome:
        """The asking node ended the run: clear the interrupt, save, finish."""
        cleared = state.replace(interruption=None)
        if self.checkpointer is not None:
            saved = await self.checkpointer.save(attempt.thread_id, cleared)
            cleared = cleared.replace(latest_checkpoint_id=saved)
            await attempt.emit_run(
                CheckpointSaved, step=state.step, checkpoint_id=saved
            )
        self.publish(attempt.thread_id, cleared)
        await attempt.emit_run(RunFinished)
        return attempt.outcome("finished", cleared)

    async def _external_attempt(
        self, attempt: Attempt, writes: Sequence[Write[Any]]
    ) -> Outcome:
        thread_id = attempt.thread_id
        cancelled = await self._wait_turn(attempt)
        if cancelled is not None:
            return cancelled
        try:
            state = await self.baseline(attempt)
            await self._begin(attempt, state)
            if state.interruption is not None:
                raise InterruptPendingError(thread_id, state.interruption.id)
            values, written = apply_input_writes(self, state.values, writes)
            step = state.step
            await attempt.emit_run(StepStarted, step=step, frontier_count=0)
            new = state.replace(values=values, step=step + 1)
            saved = None
            if self.checkpointer is not None:
                saved = await self.checkpointer.save(thread_id, new)
                new = new.replace(latest_checkpoint_id=saved)
            self.publish(thread_id, new)
            await attempt.emit_commit(written, step, new, saved)
            await attempt.emit_run(RunFinished)
            return attempt.outcome("finished", new)
        finally:
            self.release(thread_id)


def _convert_payload(tp: Any, payload: object) -> object:
    """Convert a resume payload to the declared type (msgspec: dicts become
    structs/dataclasses/attrs classes; strict about the rest)."""
    if tp is object or tp is Any:
        return payload
    try:
        return msgspec.convert(payload, tp, from_attributes=True)
    except (msgspec.ValidationError, TypeError) as exc:
        raise ResumePayloadError(expected=type_name(tp), reason=str(exc)) from exc


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
        self._task: asyncio.Future[Outcome] | None = None

    @property
    def attempt_id(self) -> str:
        return self._attempt.attempt_id

    @property
    def run_id(self) -> str | None:
        """Known once the run has resolved its thread's baseline."""
        return self._attempt.run_id

    def _ensure_started(self) -> asyncio.Future[Outcome]:
        if self._task is None:
            self._task = asyncio.ensure_future(self._main())
        return self._task

    async def _main(self) -> Outcome:
        sink = self._attempt.sink
        try:
            outcome = await self._start()
        except BaseException as exc:
            if sink is not None:
                sink.close(exc)
            raise
        if sink is not None:
            sink.close()
        return outcome

    @property
    def events(self) -> AsyncIterator[Event]:
        """The attempt's events in canonical order; raises the run's error at the
        end, like the outcome does."""
        if self._attempt.sink is None:
            if self._task is not None:
                raise RuntimeError(
                    "events were not requested: iterate handle.events before "
                    "awaiting the outcome"
                )
            self._attempt.sink = EventSink(self._attempt.options.event_buffer_capacity)
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        sink = self._attempt.sink
        if sink is None:  # pragma: no cover - set by `events`
            raise HiveInternalError("event sink missing")
        self._ensure_started()
        async for ev in sink:
            yield ev

    async def outcome(self) -> Outcome:
        """Wait for the attempt to end; raises the run's error if it failed."""
        return await self._ensure_started()

    def __await__(self) -> Generator[Any, None, Outcome]:
        return self.outcome().__await__()

    def cancel(self) -> None:
        """Cancel the run: between steps it stops cleanly, mid-step nothing of the
        step is committed. The outcome is ``cancelled``, not an error."""
        self._attempt.cancel_requested = True
        runner = self._attempt.runner
        if runner is not None:
            runner.cancel_requested = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
